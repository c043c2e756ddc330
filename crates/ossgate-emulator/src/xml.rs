//! A small writer for the XML documents OSS returns: an XML declaration, then
//! elements indented by two spaces, one per line, text escaped.

pub struct XmlWriter {
    text: String,
    depth: usize,
}

impl XmlWriter {
    pub fn new() -> Self {
        Self {
            text: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            depth: 0,
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.text.push_str("  ");
        }
    }

    /// Writes `<name>` and indents what follows.
    pub fn open(&mut self, name: &str) {
        self.indent();
        self.text.push('<');
        self.text.push_str(name);
        self.text.push_str(">\n");
        self.depth += 1;
    }

    /// Writes `</name>`.
    pub fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.text.push_str("</");
        self.text.push_str(name);
        self.text.push_str(">\n");
    }

    /// Writes `<name>text</name>` with `text` escaped.
    pub fn element(&mut self, name: &str, text: &str) {
        self.indent();
        self.text.push('<');
        self.text.push_str(name);
        self.text.push('>');
        self.text.push_str(&quick_xml::escape::escape(text));
        self.text.push_str("</");
        self.text.push_str(name);
        self.text.push_str(">\n");
    }

    pub fn finish(self) -> String {
        self.text
    }
}
