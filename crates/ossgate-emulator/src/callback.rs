//! Upload callbacks.
