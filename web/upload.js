// Upload mechanics without any page markup: checking a file against the
// server's limits, building the PostObject form from an upload token,
// measuring speed, and reading the response of OSS.
//
// How OSS responds to a form upload whose policy sets success_action_status=200
// and a callback:
//   200 + JSON      the callback succeeded, and the body is the app server's response to it.
//   2xx, no body    stored (no callback body was relayed).
//   203 + XML       stored, but the callback failed (Code CallbackFailed).
//   4xx/5xx + XML   rejected: <Error><Code>…</Code><Message>…</Message></Error>.
//   status 0        no response the page may read (network failure, CORS, abort).

"use strict";

(function (global) {
  const OCTET_STREAM = "application/octet-stream";

  /** Formats a byte count with binary units ("512 B", "1.5 KiB", "20.0 MiB"). */
  function formatBytes(bytes) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
  }

  /**
   * Returns the content type the browser sends in the form's file part: the
   * file's type, or application/octet-stream when the browser knows none.
   */
  function contentTypeOf(file) {
    return file.type || OCTET_STREAM;
  }

  /** Tells whether `type` matches one entry of `allowed` (exact, or "image/*" style); an empty list allows all. */
  function isTypeAllowed(type, allowed) {
    if (!allowed || allowed.length === 0) {
      return true;
    }
    const lower = type.toLowerCase();
    return allowed.some((entry) => {
      const pattern = String(entry).toLowerCase();
      if (pattern.endsWith("/*")) {
        return lower.startsWith(pattern.slice(0, -1));
      }
      return lower === pattern;
    });
  }

  /**
   * Checks a file against the limits from GET /api/limits.
   * Returns null when the file may be uploaded, else the reason as a message
   * key with its parameters.
   */
  function checkLimits(file, limits) {
    if (typeof limits.maxSize === "number" && file.size > limits.maxSize) {
      return {
        key: "reject.tooLarge",
        params: { size: formatBytes(file.size), max: formatBytes(limits.maxSize) },
      };
    }
    const type = contentTypeOf(file);
    if (!isTypeAllowed(type, limits.contentTypes)) {
      return {
        key: "reject.type",
        params: { type, types: limits.contentTypes.join(", ") },
      };
    }
    return null;
  }

  /**
   * Builds the multipart form for PostObject: every field of the token in the
   * order the server gave, then the file part, which OSS requires to be last.
   * The browser sets the multipart Content-Type with its boundary itself.
   */
  function buildUploadForm(token, file) {
    const form = new FormData();
    for (const [name, value] of Object.entries(token.fields || {})) {
      form.append(name, String(value));
    }
    form.append("file", file, file.name);
    return form;
  }

  /**
   * Reads OSS's error XML (<Error><Code/><Message/><RequestId/></Error>).
   * Returns null when the text is not such a document.
   */
  function parseOssError(text) {
    if (!text || !text.trim().startsWith("<")) {
      return null;
    }
    const document = new global.DOMParser().parseFromString(text, "application/xml");
    if (document.getElementsByTagName("parsererror").length > 0) {
      return null;
    }
    const root = document.documentElement;
    if (!root || root.nodeName !== "Error") {
      return null;
    }
    const field = (name) => {
      const element = root.getElementsByTagName(name)[0];
      return element ? element.textContent.trim() : "";
    };
    return { code: field("Code"), message: field("Message"), requestId: field("RequestId") };
  }

  /** Reads the app server's JSON error ({"code", "message"}); null when the body is not one. */
  function parseApiError(text) {
    const body = parseJson(text);
    if (body && typeof body === "object" && (body.message || body.code)) {
      return { code: String(body.code || ""), message: String(body.message || "") };
    }
    return null;
  }

  function parseJson(text) {
    try {
      return JSON.parse(text);
    } catch (error) {
      return undefined;
    }
  }

  /**
   * Classifies the response to the form POST. Returns one of
   *   {outcome: "done", callbackBody}  the callback's JSON, or null for an empty body
   *   {outcome: "done", text}          a 2xx body that is not JSON
   *   {outcome: "unconfirmed", error}  203: stored but the callback failed
   *   {outcome: "failed", error}       error = {code, message, requestId} or {status}
   */
  function classifyUploadResponse(status, text) {
    if (status === 203) {
      return { outcome: "unconfirmed", error: parseOssError(text) || { status } };
    }
    if (status >= 200 && status < 300) {
      if (!text || !text.trim()) {
        return { outcome: "done", callbackBody: null };
      }
      const callbackBody = parseJson(text);
      return callbackBody === undefined ? { outcome: "done", text } : { outcome: "done", callbackBody };
    }
    return { outcome: "failed", error: parseOssError(text) || { status } };
  }

  /**
   * Upload speed over the last few seconds, so the figure follows the
   * current rate instead of the average since the start.
   */
  class SpeedMeter {
    constructor(windowMs = 3000) {
      this.windowMs = windowMs;
      this.samples = [];
    }

    /** Records that `bytes` had been sent in total at time `now` (ms). */
    record(bytes, now) {
      this.samples.push({ bytes, now });
      while (this.samples.length > 2 && now - this.samples[0].now > this.windowMs) {
        this.samples.shift();
      }
    }

    /** Bytes per second over the window, or null before two samples 100 ms apart. */
    bytesPerSecond() {
      const first = this.samples[0];
      const last = this.samples[this.samples.length - 1];
      if (!first || last.now - first.now < 100) {
        return null;
      }
      return ((last.bytes - first.bytes) * 1000) / (last.now - first.now);
    }
  }

  global.OssgateUpload = {
    formatBytes,
    contentTypeOf,
    isTypeAllowed,
    checkLimits,
    buildUploadForm,
    parseOssError,
    parseApiError,
    classifyUploadResponse,
    SpeedMeter,
  };
})(window);
