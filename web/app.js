// The upload page: choosing files, the upload queue, results and the
// "My uploads" list. Upload mechanics live in upload.js, text in i18n.js.
//
// Each file is checked against GET /api/limits when it is added, and a file
// that breaks a limit is "rejected" and never leaves the browser. At most
// MAX_PARALLEL uploads run at once. When a file's turn comes, it requests its
// own token from GET /api/upload-token and POSTs the form straight to the
// bucket URL in the token. A retry always requests a fresh token, because a
// token may have expired while the file waited.
//
// Stable hooks for tests and scripts (ids, classes and data attributes that
// keep their meaning):
//   html[lang]                       "en" or "zh-CN", the language shown
//   #lang-switch                     switches the language (saved in localStorage "ossgate.lang")
//   #limits[data-loaded]             "true" once /api/limits responded, "error" if it failed
//   #limits[data-auth-mode]          the server's authMode
//   #auth, #auth-token, #auth-save, #auth-clear
//                                    the bearer token form, shown when authMode is not "none"
//                                    (the token is saved in localStorage "ossgate.authToken")
//   #drop-zone                       click, Enter or Space opens the file picker; accepts drops
//   #file-input                      the file input (multiple)
//   #file-list > li.file             one row per chosen file, with
//       [data-id]                    a number unique on this page
//       [data-name]                  the file name
//       [data-state]                 queued | uploading | done | unconfirmed | failed | rejected | canceled
//       [data-phase]                 while uploading: token | sending | processing
//       [data-error-code]            OSS's or the app server's error code; "NetworkError" when no
//                                    response could be read; "HTTP<status>" for a failure without
//                                    error XML; "MalformedUploadToken" for a token without a URL;
//                                    or the rejection ("EntityTooLarge", "InvalidContentType")
//       [data-object]                the object key from the callback's JSON body
//       [data-attempts]              how many upload tokens this file has requested
//     progress.file-progress[data-percent]   0 to 100, the share of the form body sent
//     .file-state, .file-message     the state and the status or error text
//     a.file-link, img.file-thumb    the uploaded file and, for images, its thumbnail
//     button.file-cancel, button.file-retry
//   #overall-progress[data-percent]  progress over all files not rejected or canceled
//   #retry-failed, #clear-finished
//   #uploads-list > li.upload        one row per upload in "My uploads", newest first, with
//       [data-id], [data-object]     the record's id and object key
//       [data-filename]              the file's original name
//     .upload__name, .upload__key    the name (a link to the file) and the "Stored as" key line
//   #uploads[aria-busy]              "true" while the list loads
//   #uploads-more, #uploads-refresh
//   #status                          the aria-live region announcing each change

"use strict";

(function (global) {
  const { translate, translateDocument } = global.OssgateI18n;
  const Upload = global.OssgateUpload;
  const document = global.document;

  const MAX_PARALLEL = 3;
  const UPLOADS_PAGE_SIZE = 20;
  const AUTH_STORAGE_KEY = "ossgate.authToken";
  const FINISHED_STATES = ["done", "unconfirmed", "failed", "rejected", "canceled"];

  const page = {
    limits: null,
    limitsError: null,
    entries: [],
    nextId: 1,
    uploads: { items: [], next: null, error: null, loading: false, reloadRequested: false },
    uploadsRefreshTimer: null,
  };

  const elements = {};

  // ---------------------------------------------------------------------------
  // Start-up

  function init() {
    for (const id of [
      "lang-switch", "limits", "limits-list", "limits-retry", "auth", "auth-form", "auth-token",
      "auth-clear", "auth-hint", "drop-zone", "file-input", "retry-failed", "clear-finished",
      "overall", "overall-progress", "overall-summary", "queue-empty", "file-list",
      "uploads", "uploads-list", "uploads-message", "uploads-more", "uploads-refresh", "status",
    ]) {
      elements[id] = document.getElementById(id);
    }

    bindEvents();
    applyLanguage();
    loadLimits();
    loadUploads({ reset: true });
  }

  function bindEvents() {
    elements["lang-switch"].addEventListener("click", switchLanguage);
    elements["limits-retry"].addEventListener("click", loadLimits);
    elements["auth-form"].addEventListener("submit", saveAuthToken);
    elements["auth-clear"].addEventListener("click", clearAuthToken);

    const dropZone = elements["drop-zone"];
    dropZone.addEventListener("click", openFilePicker);
    dropZone.addEventListener("keydown", onDropZoneKey);
    dropZone.addEventListener("dragenter", onDragOver);
    dropZone.addEventListener("dragover", onDragOver);
    dropZone.addEventListener("dragleave", onDragLeave);
    dropZone.addEventListener("drop", onDrop);
    // A file dropped next to the zone would otherwise replace the page with the file.
    global.addEventListener("dragover", preventFileNavigation);
    global.addEventListener("drop", preventFileNavigation);
    document.addEventListener("paste", onPaste);
    elements["file-input"].addEventListener("change", onFilesChosen);

    elements["retry-failed"].addEventListener("click", retryAllFailed);
    elements["clear-finished"].addEventListener("click", clearFinished);
    elements["file-list"].addEventListener("click", onFileListClick);
    elements["uploads-refresh"].addEventListener("click", () => loadUploads({ reset: true }));
    elements["uploads-more"].addEventListener("click", () => loadUploads({ reset: false }));
  }

  // ---------------------------------------------------------------------------
  // Language

  function switchLanguage() {
    const next = global.OssgateI18n.language() === "en" ? "zh-CN" : "en";
    global.OssgateI18n.setLanguage(next);
    applyLanguage();
    announce(translate("announce.language"));
  }

  /** Renders every text of the page in the current language. */
  function applyLanguage() {
    const language = global.OssgateI18n.language();
    document.documentElement.lang = language;
    translateDocument(document);
    // The switch is labelled in the other language, so screen readers pronounce it in that one.
    elements["lang-switch"].lang = language === "en" ? "zh-CN" : "en";
    renderLimits();
    renderAuthHint();
    for (const entry of page.entries) {
      renderEntry(entry);
    }
    renderQueueSummary();
    renderUploads();
  }

  /** Sets the text of the live region, which screen readers read out. */
  function announce(text) {
    elements.status.textContent = text;
  }

  // ---------------------------------------------------------------------------
  // Calls to the app server

  /**
   * An app server call that failed: the HTTP status (0 without a response), the error code of
   * the JSON body ("NetworkError" without a response, "" without a JSON body) and the server's
   * message. apiErrorText() turns it into a sentence in the page's language.
   */
  class ApiError extends Error {
    constructor(status, code, message, tokenExpired) {
      super(message);
      this.status = status;
      this.code = code;
      // Whether the rejected token was a JWT whose exp claim had passed.
      this.tokenExpired = Boolean(tokenExpired);
    }
  }

  /**
   * Returns the sentence for a failed app server call in the page's language: the page's own
   * text for an error code that has a message key, else the server's message. `file`, when given, is the file
   * whose upload token was requested, and fills in its size and type.
   */
  function apiErrorText(error, file) {
    let text;
    const key = error.tokenExpired ? "apiError.TokenExpired" : `apiError.${error.code}`;
    if (error.code === "NetworkError") {
      text = translate("error.tokenNetwork");
    } else if (error.code && global.OssgateI18n.has(key)) {
      text = translate(key, file ? { size: Upload.formatBytes(file.size), type: Upload.contentTypeOf(file) } : {});
    } else if (error.message) {
      text = error.message;
    } else {
      text = translate("error.api", { status: error.status });
    }
    if (error.status !== 401) {
      return text;
    }
    const sentence = asSentence(text);
    // Chinese puts no space after its full-width full stop.
    const separator = /[。！？]$/.test(sentence) ? "" : " ";
    return `${sentence}${separator}${translate("error.unauthorized")}`;
  }

  /** Tells whether `token` is a JWT whose exp claim (Unix seconds) is in the past. */
  function isExpiredJwt(token) {
    const parts = token.split(".");
    if (parts.length !== 3) {
      return false;
    }
    try {
      const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
      const claims = JSON.parse(global.atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "=")));
      return typeof claims.exp === "number" && claims.exp * 1000 < Date.now();
    } catch (error) {
      return false;
    }
  }

  function apiUrl(path, params) {
    // Relative to the page, so the page also works under a path prefix behind a proxy.
    const url = new URL(path, document.baseURI);
    for (const [name, value] of Object.entries(params || {})) {
      url.searchParams.set(name, String(value));
    }
    return url.toString();
  }

  /**
   * GETs an app server endpoint with the saved bearer token and returns the
   * parsed JSON body.
   * Throws ApiError with the server's code and message, or with the code
   * "NetworkError" when the server cannot be reached.
   */
  async function getJson(path, params, signal) {
    const headers = { Accept: "application/json" };
    const token = readAuthToken();
    if (token) {
      headers.Authorization = `Bearer ${token}`;
    }

    let response;
    try {
      response = await fetch(apiUrl(path, params), { headers, signal });
    } catch (error) {
      if (error.name === "AbortError") {
        throw error;
      }
      throw new ApiError(0, "NetworkError", "");
    }

    const text = await response.text();
    if (!response.ok) {
      const apiError = Upload.parseApiError(text);
      const code = apiError ? apiError.code : "";
      const tokenExpired = code === "InvalidToken" && isExpiredJwt(token);
      throw new ApiError(response.status, code, apiError ? apiError.message : "", tokenExpired);
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ApiError(response.status, "", "");
    }
  }

  // ---------------------------------------------------------------------------
  // Limits and access token

  async function loadLimits() {
    elements["limits-retry"].hidden = true;
    elements.limits.dataset.loaded = "false";
    page.limitsError = null;
    renderLimits();

    try {
      page.limits = await getJson("api/limits");
      elements.limits.dataset.loaded = "true";
      elements.limits.dataset.authMode = page.limits.authMode || "none";
    } catch (error) {
      page.limitsError = error;
      elements.limits.dataset.loaded = "error";
      elements["limits-retry"].hidden = false;
    }

    renderLimits();
    showAuthIfRequired();
    setPickerAccept();
    checkWaitingEntries();
    startQueuedUploads();
  }

  function renderLimits() {
    const list = elements["limits-list"];
    list.replaceChildren();
    const limits = page.limits;
    if (page.limitsError) {
      list.append(listItem(translate("limits.failed", { message: apiErrorText(page.limitsError) })));
      return;
    }
    if (!limits) {
      list.append(listItem(translate("limits.loading")));
      return;
    }

    list.append(listItem(translate("limits.maxSize", { size: Upload.formatBytes(limits.maxSize) })));
    const types = limits.contentTypes || [];
    list.append(listItem(types.length
      ? translate("limits.types", { types: types.join(", ") })
      : translate("limits.anyType")));
    if (limits.tokenLifetime) {
      list.append(listItem(translate("limits.lifetime", { seconds: limits.tokenLifetime })));
    }
  }

  function listItem(text) {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }

  /** Hints the allowed types to the file picker. Drops and pastes bypass it, so every file is still checked. */
  function setPickerAccept() {
    const types = page.limits && page.limits.contentTypes;
    if (types && types.length) {
      elements["file-input"].accept = types.join(",");
    } else {
      elements["file-input"].removeAttribute("accept");
    }
  }

  function showAuthIfRequired() {
    const mode = page.limits && page.limits.authMode;
    elements.auth.hidden = !mode || mode === "none";
    elements["auth-token"].value = readAuthToken();
    renderAuthHint();
  }

  function renderAuthHint() {
    const mode = page.limits && page.limits.authMode;
    elements["auth-hint"].textContent = mode && mode !== "none" ? translate("auth.hint", { mode }) : "";
  }

  function readAuthToken() {
    try {
      return global.localStorage.getItem(AUTH_STORAGE_KEY) || "";
    } catch (error) {
      return "";
    }
  }

  function saveAuthToken(event) {
    event.preventDefault();
    const token = elements["auth-token"].value.trim();
    try {
      if (token) {
        global.localStorage.setItem(AUTH_STORAGE_KEY, token);
      } else {
        global.localStorage.removeItem(AUTH_STORAGE_KEY);
      }
    } catch (error) {
      // Without storage the token cannot be kept, so uploads run without it.
    }
    announce(translate(token ? "auth.saved" : "auth.cleared"));
    loadUploads({ reset: true });
  }

  function clearAuthToken() {
    elements["auth-token"].value = "";
    try {
      global.localStorage.removeItem(AUTH_STORAGE_KEY);
    } catch (error) {
      // Nothing was stored.
    }
    announce(translate("auth.cleared"));
    loadUploads({ reset: true });
  }

  // ---------------------------------------------------------------------------
  // Choosing files

  function openFilePicker() {
    elements["file-input"].click();
  }

  function onDropZoneKey(event) {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      openFilePicker();
    }
  }

  function hasFiles(event) {
    return event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files");
  }

  function onDragOver(event) {
    if (!hasFiles(event)) {
      return;
    }
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    elements["drop-zone"].classList.add("is-dragover");
  }

  function onDragLeave(event) {
    if (!elements["drop-zone"].contains(event.relatedTarget)) {
      elements["drop-zone"].classList.remove("is-dragover");
    }
  }

  function onDrop(event) {
    event.preventDefault();
    event.stopPropagation();
    elements["drop-zone"].classList.remove("is-dragover");
    addFiles(event.dataTransfer.files);
  }

  function preventFileNavigation(event) {
    if (hasFiles(event)) {
      event.preventDefault();
    }
  }

  function onPaste(event) {
    const files = event.clipboardData ? event.clipboardData.files : null;
    if (files && files.length > 0) {
      event.preventDefault();
      addFiles(files);
    }
  }

  function onFilesChosen(event) {
    addFiles(event.target.files);
    // Cleared so that choosing the same file again fires another change event.
    event.target.value = "";
  }

  /** Adds files to the queue and marks each file that breaks a limit as rejected. */
  function addFiles(fileList) {
    const files = Array.from(fileList || []);
    if (files.length === 0) {
      return;
    }

    for (const file of files) {
      const entry = createEntry(file);
      page.entries.push(entry);
      elements["file-list"].append(entry.row.item);
      if (page.limits) {
        checkEntry(entry);
      }
      renderEntry(entry);
    }

    announce(translate("announce.added", { count: files.length }));
    renderQueueSummary();
    startQueuedUploads();
  }

  function createEntry(file) {
    const entry = {
      id: page.nextId++,
      file,
      state: "queued",
      phase: null,
      attempts: 0,
      sentBytes: 0,
      percent: 0,
      speed: null,
      startedAt: 0,
      sentAt: 0,
      reason: null,
      error: null,
      callbackBody: null,
      bodyText: null,
      xhr: null,
      tokenRequest: null,
    };
    entry.row = createRow(entry);
    return entry;
  }

  /** Marks the entry rejected, so it never requests a token, if its file breaks the limits. */
  function checkEntry(entry) {
    const reason = Upload.checkLimits(entry.file, page.limits);
    if (!reason) {
      return;
    }
    entry.state = "rejected";
    entry.reason = reason;
    entry.error = { code: reason.key === "reject.tooLarge" ? "EntityTooLarge" : "InvalidContentType" };
    announce(translate("announce.rejected", { name: entry.file.name, reason: translate(reason.key, reason.params) }));
  }

  /** Checks the files added before the limits were known. */
  function checkWaitingEntries() {
    if (!page.limits) {
      return;
    }
    for (const entry of page.entries) {
      if (entry.state === "queued") {
        checkEntry(entry);
        renderEntry(entry);
      }
    }
    renderQueueSummary();
  }

  // ---------------------------------------------------------------------------
  // The queue

  /** Starts queued uploads while fewer than MAX_PARALLEL are running. */
  function startQueuedUploads() {
    if (!page.limits) {
      return;
    }
    let running = page.entries.filter((entry) => entry.state === "uploading").length;
    for (const entry of page.entries) {
      if (running >= MAX_PARALLEL) {
        break;
      }
      if (entry.state === "queued") {
        running += 1;
        uploadEntry(entry);
      }
    }
  }

  /** Requests a fresh token for the entry, then sends the form to the bucket. */
  async function uploadEntry(entry) {
    resetProgress(entry);
    entry.state = "uploading";
    entry.phase = "token";
    entry.attempts += 1;
    const attempt = entry.attempts;
    renderEntry(entry);
    renderQueueSummary();

    // A cancel (and maybe a retry) while the token is on its way makes this attempt stale.
    const isCurrent = () => entry.attempts === attempt && entry.state === "uploading";
    let token;
    try {
      token = await requestToken(entry);
    } catch (error) {
      if (isCurrent()) {
        finishWithApiError(entry, error);
      }
      return;
    }
    if (!isCurrent()) {
      return;
    }
    if (!token || !token.url) {
      finishEntry(entry, "failed", { error: { code: "MalformedUploadToken", key: "error.badToken" } });
      return;
    }
    sendForm(entry, token);
  }

  function resetProgress(entry) {
    entry.sentBytes = 0;
    entry.percent = 0;
    entry.speed = new Upload.SpeedMeter();
    entry.startedAt = 0;
    entry.sentAt = 0;
    entry.error = null;
    entry.callbackBody = null;
    entry.bodyText = null;
  }

  function requestToken(entry) {
    const controller = new AbortController();
    entry.tokenRequest = controller;
    const file = entry.file;
    const params = { filename: file.name, size: file.size, contentType: Upload.contentTypeOf(file) };
    return getJson("api/upload-token", params, controller.signal).finally(() => {
      if (entry.tokenRequest === controller) {
        entry.tokenRequest = null;
      }
    });
  }

  function finishWithApiError(entry, error) {
    finishEntry(entry, "failed", { error: { code: error.code || "", api: error } });
  }

  /** Ends the text with a full stop unless it already ends with punctuation. */
  function asSentence(text) {
    return /[.!?。！？]$/.test(text) ? text : `${text}.`;
  }

  /** POSTs the form to the bucket with XMLHttpRequest, which reports upload progress. */
  function sendForm(entry, token) {
    const xhr = new XMLHttpRequest();
    entry.xhr = xhr;
    entry.phase = "sending";
    entry.startedAt = performance.now();
    renderEntry(entry);

    // Events of an aborted request are ignored, because cancelEntry() has already marked the entry.
    const isCurrent = () => entry.xhr === xhr;
    xhr.upload.addEventListener("progress", (event) => {
      if (isCurrent() && event.lengthComputable) {
        recordProgress(entry, event.loaded, event.total);
      }
    });
    xhr.upload.addEventListener("load", (event) => {
      if (!isCurrent()) {
        return;
      }
      // The whole form body has left the browser. OSS now stores it and calls the app server.
      recordProgress(entry, event.total || 1, event.total || 1);
      entry.sentAt = performance.now();
      entry.phase = "processing";
      renderEntry(entry);
    });
    xhr.addEventListener("load", () => {
      if (isCurrent()) {
        onUploadAnswer(entry, xhr);
      }
    });
    xhr.addEventListener("error", () => {
      if (isCurrent()) {
        finishEntry(entry, "failed", { error: { code: "NetworkError", key: "error.network" } });
      }
    });

    xhr.open(token.method || "POST", token.url);
    xhr.send(Upload.buildUploadForm(token, entry.file));
  }

  function recordProgress(entry, loaded, total) {
    const share = total > 0 ? loaded / total : 0;
    entry.percent = Math.min(100, Math.floor(share * 100));
    entry.sentBytes = Math.round(entry.file.size * share);
    entry.speed.record(loaded, performance.now());
    renderProgress(entry);
    renderQueueSummary();
  }

  function onUploadAnswer(entry, xhr) {
    const result = Upload.classifyUploadResponse(xhr.status, xhr.responseText);
    if (result.outcome === "done") {
      finishEntry(entry, "done", { callbackBody: result.callbackBody || null, bodyText: result.text || null });
      scheduleUploadsRefresh();
    } else if (result.outcome === "unconfirmed") {
      finishEntry(entry, "unconfirmed", { error: describeStorageError(result.error, entry.file) });
      scheduleUploadsRefresh();
    } else {
      finishEntry(entry, "failed", { error: describeStorageError(result.error, entry.file) });
    }
  }

  /**
   * Turns OSS's parsed error (or a bare status) into the row's error: the code, and either the
   * message key of a code that has one or OSS's own "Code: message" text.
   */
  function describeStorageError(error, file) {
    if (!error.code && !error.message) {
      return { code: `HTTP${error.status}`, key: "error.storage", params: { status: error.status } };
    }
    const detail = [error.code, error.message].filter(Boolean).join(": ");
    const key = storageErrorKey(error.code, error.message);
    if (!key) {
      return { code: error.code, message: detail, requestId: error.requestId };
    }
    return {
      code: error.code,
      key,
      params: { size: Upload.formatBytes(file.size) },
      detail,
      requestId: error.requestId,
    };
  }

  /** Returns the message key for an OSS error, or null for a code the page has no text for. */
  function storageErrorKey(code, message) {
    // OSS reports every failed policy check as AccessDenied and distinguishes them by the message
    // ("Invalid according to Policy: Policy expired." and "…: Policy Condition failed: […]").
    if (code === "AccessDenied" && /Policy expired/i.test(message)) {
      return "ossError.PolicyExpired";
    }
    if (code === "AccessDenied" && /Policy Condition failed/i.test(message)) {
      return "ossError.PolicyConditionFailed";
    }
    const key = `ossError.${code}`;
    return code && global.OssgateI18n.has(key) ? key : null;
  }

  /**
   * Returns the server's own "Code: message" for an error the page shows in its own words, so
   * the original stays at hand (as the message's tooltip) for the server's operator.
   */
  function errorDetail(entry) {
    const error = entry.error;
    if (!error || (entry.state !== "failed" && entry.state !== "unconfirmed")) {
      return "";
    }
    if (error.api && error.api.message) {
      return [error.api.code, error.api.message].filter(Boolean).join(": ");
    }
    return error.detail || "";
  }

  /** Returns the sentence for the entry's error in the page's language. */
  function entryErrorText(entry) {
    const error = entry.error;
    if (!error) {
      return "";
    }
    if (error.api) {
      return apiErrorText(error.api, entry.file);
    }
    if (error.key) {
      return translate(error.key, error.params);
    }
    return error.message || "";
  }

  /** Moves an entry to a final state, announces it and starts the next queued upload. */
  function finishEntry(entry, state, details) {
    entry.state = state;
    entry.phase = null;
    entry.xhr = null;
    Object.assign(entry, details);
    renderEntry(entry);
    renderQueueSummary();
    announceOutcome(entry);
    startQueuedUploads();
  }

  function announceOutcome(entry) {
    const name = entry.file.name;
    if (entry.state === "done") {
      announce(translate("announce.done", { name }));
    } else if (entry.state === "unconfirmed") {
      announce(translate("announce.unconfirmed", { name }));
    } else if (entry.state === "failed") {
      announce(translate("announce.failed", { name, reason: entryErrorText(entry) }));
    }
  }

  function cancelEntry(entry) {
    if (entry.state !== "queued" && entry.state !== "uploading") {
      return;
    }
    const xhr = entry.xhr;
    const tokenRequest = entry.tokenRequest;
    finishEntry(entry, "canceled", {});
    announce(translate("announce.canceled", { name: entry.file.name }));
    if (xhr) {
      xhr.abort();
    }
    if (tokenRequest) {
      tokenRequest.abort();
    }
  }

  function retryEntry(entry) {
    if (entry.state !== "failed" && entry.state !== "canceled") {
      return;
    }
    entry.state = "queued";
    resetProgress(entry);
    renderEntry(entry);
    renderQueueSummary();
    startQueuedUploads();
  }

  function retryAllFailed() {
    for (const entry of page.entries.filter((item) => item.state === "failed")) {
      retryEntry(entry);
    }
  }

  function clearFinished() {
    page.entries = page.entries.filter((entry) => {
      const finished = FINISHED_STATES.includes(entry.state);
      if (finished) {
        entry.row.item.remove();
      }
      return !finished;
    });
    renderQueueSummary();
  }

  function onFileListClick(event) {
    const button = event.target.closest("button");
    if (!button) {
      return;
    }
    const id = Number(button.closest("li.file").dataset.id);
    const entry = page.entries.find((item) => item.id === id);
    if (!entry) {
      return;
    }
    if (button.classList.contains("file-cancel")) {
      cancelEntry(entry);
    } else if (button.classList.contains("file-retry")) {
      retryEntry(entry);
    }
    // The pressed button hides itself, so keyboard focus moves to the row's other action.
    if (button.hidden) {
      const other = button === entry.row.cancel ? entry.row.retry : entry.row.cancel;
      if (!other.hidden) {
        other.focus();
      }
    }
  }

  // ---------------------------------------------------------------------------
  // Rendering the queue

  /** Builds the row's elements once; renderEntry() fills them for each state. */
  function createRow(entry) {
    const item = document.createElement("li");
    item.className = "file";
    item.dataset.id = String(entry.id);
    item.dataset.name = entry.file.name;

    const head = element("div", "file__head");
    const name = element("span", "file__name", entry.file.name);
    const meta = element("span", "file__meta",
      `${Upload.formatBytes(entry.file.size)} · ${Upload.contentTypeOf(entry.file)}`);
    head.append(name, meta);

    const progress = document.createElement("progress");
    progress.className = "file-progress";
    progress.max = 100;
    progress.value = 0;

    const status = element("div", "file__status");
    const stateLabel = element("span", "file-state");
    const percent = element("span", "file-percent");
    const speed = element("span", "file-speed");
    status.append(stateLabel, percent, speed);

    const message = element("p", "file-message");
    const result = element("div", "file-result");

    const actions = element("div", "file__actions");
    const cancel = element("button", "button button--small file-cancel");
    cancel.type = "button";
    const retry = element("button", "button button--small file-retry");
    retry.type = "button";
    actions.append(cancel, retry);

    item.append(head, progress, status, message, result, actions);
    return { item, progress, stateLabel, percent, speed, message, result, cancel, retry };
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    node.className = className;
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function renderEntry(entry) {
    const row = entry.row;
    const name = entry.file.name;
    row.item.dataset.state = entry.state;
    row.item.dataset.attempts = String(entry.attempts);
    setOrRemove(row.item, "phase", entry.phase);
    setOrRemove(row.item, "errorCode", entry.error && entry.error.code);
    setOrRemove(row.item, "object", entry.callbackBody && entry.callbackBody.object);

    row.progress.hidden = entry.state === "rejected";
    row.progress.setAttribute("aria-label", translate("file.progressLabel", { name }));
    row.stateLabel.textContent = stateText(entry);
    row.message.textContent = messageText(entry);
    const detail = errorDetail(entry);
    if (detail) {
      row.message.title = translate("error.detail", { detail });
    } else {
      row.message.removeAttribute("title");
    }
    renderProgress(entry);
    renderResult(entry);

    row.cancel.hidden = entry.state !== "queued" && entry.state !== "uploading";
    row.cancel.textContent = translate("file.cancel");
    row.cancel.setAttribute("aria-label", translate("file.cancelLabel", { name }));
    row.retry.hidden = entry.state !== "failed" && entry.state !== "canceled";
    row.retry.textContent = translate("file.retry");
    row.retry.setAttribute("aria-label", translate("file.retryLabel", { name }));
  }

  function setOrRemove(node, key, value) {
    if (value) {
      node.dataset[key] = String(value);
    } else {
      delete node.dataset[key];
    }
  }

  function stateText(entry) {
    if (entry.state === "uploading") {
      return translate(entry.phase === "token" ? "state.token" : "state.uploading");
    }
    if (entry.state === "queued" && !page.limits) {
      return translate("state.waitingLimits");
    }
    return translate(`state.${entry.state}`);
  }

  function messageText(entry) {
    switch (entry.state) {
      case "uploading":
        return entry.phase === "processing" ? translate("state.processing") : "";
      case "done":
        if (entry.callbackBody && entry.callbackBody.object) {
          return translate("file.object", { object: entry.callbackBody.object });
        }
        return entry.callbackBody || entry.bodyText ? "" : translate("state.doneNoBody");
      case "unconfirmed":
      case "failed":
        return entryErrorText(entry);
      case "rejected":
        return translate(entry.reason.key, entry.reason.params);
      default:
        return "";
    }
  }

  function renderProgress(entry) {
    const row = entry.row;
    row.progress.value = entry.percent;
    row.progress.dataset.percent = String(entry.percent);
    const showNumbers = entry.state !== "rejected" && entry.state !== "queued";
    row.percent.textContent = showNumbers ? `${entry.percent}%` : "";
    row.speed.textContent = showNumbers ? speedText(entry) : "";
  }

  /** Formats the current speed while sending, and the average speed once the file is sent. */
  function speedText(entry) {
    if (!entry.speed) {
      return "";
    }
    let bytesPerSecond = entry.speed.bytesPerSecond();
    if (entry.state !== "uploading" || entry.phase === "processing") {
      const seconds = (entry.sentAt - entry.startedAt) / 1000;
      bytesPerSecond = entry.sentAt && seconds > 0 ? entry.file.size / seconds : null;
    }
    if (bytesPerSecond === null) {
      return "";
    }
    return translate("file.speed", { speed: Upload.formatBytes(Math.round(bytesPerSecond)) });
  }

  /** Shows the link, the thumbnail for images and any non-JSON response body of a finished upload. */
  function renderResult(entry) {
    const container = entry.row.result;
    container.replaceChildren();
    if (entry.state !== "done") {
      return;
    }
    const body = entry.callbackBody;
    const url = body && safeHttpUrl(body.url);
    const type = (body && body.mimeType) || Upload.contentTypeOf(entry.file);
    if (url && type.startsWith("image/")) {
      container.append(thumbnail(url, translate("file.thumbnailAlt", { name: entry.file.name }), false));
    }
    if (url) {
      const link = element("a", "file-link", translate("file.open"));
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      container.append(link);
    }
    if (entry.bodyText) {
      container.append(element("pre", "file-body", entry.bodyText));
    }
  }

  /** Builds an image that removes itself if it fails to load; `lazy` defers loading until it is near the viewport. */
  function thumbnail(url, alt, lazy) {
    const image = document.createElement("img");
    image.className = "file-thumb";
    image.alt = alt;
    image.loading = lazy ? "lazy" : "eager";
    image.decoding = "async";
    image.addEventListener("error", () => image.remove());
    image.src = url;
    return image;
  }

  /** Returns the URL only when it is http(s), so a response can never inject a javascript: link. */
  function safeHttpUrl(value) {
    if (typeof value !== "string") {
      return null;
    }
    try {
      const url = new URL(value, document.baseURI);
      return url.protocol === "http:" || url.protocol === "https:" ? url.toString() : null;
    } catch (error) {
      return null;
    }
  }

  /** Updates the overall progress, the counters and the queue buttons. */
  function renderQueueSummary() {
    const counted = page.entries.filter((entry) => entry.state !== "rejected" && entry.state !== "canceled");
    const totalBytes = counted.reduce((sum, entry) => sum + entry.file.size, 0);
    // A stored file counts whole; any other file counts what actually left the browser.
    const sentBytes = counted.reduce((sum, entry) =>
      sum + (entry.state === "done" || entry.state === "unconfirmed" ? entry.file.size : entry.sentBytes), 0);
    const finished = counted.filter((entry) => FINISHED_STATES.includes(entry.state)).length;
    const percent = totalBytes > 0 ? Math.floor((sentBytes * 100) / totalBytes) : (counted.length ? 100 : 0);

    elements.overall.hidden = counted.length === 0;
    elements["overall-progress"].value = percent;
    elements["overall-progress"].dataset.percent = String(percent);
    elements["overall-summary"].textContent = translate("overall.summary", {
      finished,
      total: counted.length,
      sent: Upload.formatBytes(sentBytes),
      bytes: Upload.formatBytes(totalBytes),
    });

    const failed = page.entries.filter((entry) => entry.state === "failed").length;
    elements["retry-failed"].disabled = failed === 0;
    elements["retry-failed"].textContent = translate("queue.retryFailed", { count: failed });
    elements["clear-finished"].disabled = !page.entries.some((entry) => FINISHED_STATES.includes(entry.state));
    elements["queue-empty"].hidden = page.entries.length > 0;
  }

  // ---------------------------------------------------------------------------
  // My uploads

  /** Loads the first page of uploads (reset) or the next page after the last one shown. */
  async function loadUploads({ reset }) {
    const uploads = page.uploads;
    if (uploads.loading) {
      // A reload asked for during a load runs after it, so the newest upload is never missed.
      uploads.reloadRequested = uploads.reloadRequested || reset;
      return;
    }
    if (!reset && !uploads.next) {
      return;
    }
    uploads.loading = true;
    elements.uploads.setAttribute("aria-busy", "true");
    if (reset) {
      uploads.error = null;
      renderUploadsMessage(translate("uploads.loading"));
    }

    const params = { limit: UPLOADS_PAGE_SIZE };
    if (!reset && uploads.next) {
      params.before = uploads.next;
    }
    try {
      const body = await getJson("api/uploads", params);
      uploads.items = reset ? body.uploads || [] : uploads.items.concat(body.uploads || []);
      uploads.next = body.next || null;
      uploads.error = null;
    } catch (error) {
      uploads.error = error;
      if (error.status === 401 || error.status === 403) {
        // The list belongs to the token that loaded it. Without a valid token it must not stay
        // on screen, for example on a shared computer after someone saved a wrong token.
        uploads.items = [];
        uploads.next = null;
      }
    }

    uploads.loading = false;
    elements.uploads.setAttribute("aria-busy", "false");
    renderUploads();

    if (uploads.reloadRequested) {
      uploads.reloadRequested = false;
      loadUploads({ reset: true });
    }
  }

  /** Reloads the list shortly after an upload finishes, once for several uploads finishing together. */
  function scheduleUploadsRefresh() {
    global.clearTimeout(page.uploadsRefreshTimer);
    page.uploadsRefreshTimer = global.setTimeout(() => loadUploads({ reset: true }), 300);
  }

  function renderUploads() {
    const uploads = page.uploads;
    const list = elements["uploads-list"];
    list.replaceChildren(...uploads.items.map(uploadItem));
    elements["uploads-more"].hidden = !uploads.next || Boolean(uploads.error);

    if (uploads.error) {
      renderUploadsMessage(translate("uploads.failed", { message: apiErrorText(uploads.error) }));
    } else if (uploads.loading && uploads.items.length === 0) {
      renderUploadsMessage(translate("uploads.loading"));
    } else if (uploads.items.length === 0) {
      renderUploadsMessage(translate("uploads.empty"));
    } else {
      renderUploadsMessage("");
    }
  }

  function renderUploadsMessage(text) {
    elements["uploads-message"].textContent = text;
    elements["uploads-message"].hidden = text === "";
  }

  // The name and the key come from uploaders, so they are only ever set as text.
  function uploadItem(upload) {
    const object = String(upload.object || "");
    const name = uploadName(upload);
    const item = document.createElement("li");
    item.className = "upload";
    item.dataset.id = String(upload.id);
    item.dataset.object = object;
    item.dataset.filename = name;

    const url = safeHttpUrl(upload.url);
    const isImage = typeof upload.mimeType === "string" && upload.mimeType.startsWith("image/");
    if (url && isImage) {
      item.append(thumbnail(url, translate("file.thumbnailAlt", { name }), true));
    } else {
      item.append(element("span", "upload__icon", fileBadge(name, upload.mimeType)));
    }

    const body = element("div", "upload__body");
    const title = url ? element("a", "upload__name", name) : element("span", "upload__name", name);
    if (url) {
      title.href = url;
      title.target = "_blank";
      title.rel = "noopener noreferrer";
    }
    const key = element(
      "span",
      "upload__key",
      translate("file.object", { object: withoutBidiControls(object) }),
    );
    body.append(title, key, element("span", "upload__meta", uploadDetails(upload)));
    item.append(body);
    return item;
  }

  /**
   * Returns the file's original name from the API, else (from a server that sends none) the
   * last segment of the object key.
   */
  function uploadName(upload) {
    const recorded = typeof upload.filename === "string" ? withoutBidiControls(upload.filename) : "";
    if (recorded.trim() !== "") {
      return recorded;
    }
    const object = withoutBidiControls(String(upload.object || ""));
    const segments = object.split("/").filter((segment) => segment.trim() !== "");
    return segments.length > 0 ? segments[segments.length - 1] : object;
  }

  /**
   * Removes Unicode bidirectional text controls, which could make "abc\u202Etxt.exe" show as
   * "abcexe.txt". The server rejects them in new names; keys and older records may hold them.
   */
  function withoutBidiControls(text) {
    return text.replace(/[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g, "");
  }

  /** Returns a short badge for files without a thumbnail: the extension, else the MIME subtype. */
  function fileBadge(name, mimeType) {
    const dot = name.lastIndexOf(".");
    if (dot > name.lastIndexOf("/") && dot < name.length - 1) {
      return name.slice(dot + 1, dot + 5).toUpperCase();
    }
    return String(mimeType || "").split("/")[1]?.slice(0, 4).toUpperCase() || "FILE";
  }

  function uploadDetails(upload) {
    const parts = [Upload.formatBytes(Number(upload.size) || 0)];
    if (upload.mimeType) {
      parts.push(upload.mimeType);
    }
    if (upload.imageWidth && upload.imageHeight) {
      parts.push(translate("uploads.dimensions", { width: upload.imageWidth, height: upload.imageHeight }));
    }
    const created = formatDate(upload.createdAt);
    if (created) {
      parts.push(created);
    }
    return parts.join(" · ");
  }

  /** Formats an RFC 3339 string or Unix seconds in the page's language. */
  function formatDate(value) {
    if (value === undefined || value === null || value === "") {
      return "";
    }
    const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    if (Number.isNaN(date.getTime())) {
      return String(value);
    }
    return date.toLocaleString(global.OssgateI18n.language(), { dateStyle: "medium", timeStyle: "short" });
  }

  init();
})(window);
