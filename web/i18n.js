// Interface text of the upload page in English and Simplified Chinese, and
// the choice between them.
//
// The language comes from the choice saved in localStorage, else from the
// browser's preferred languages (any "zh" variant selects Chinese), else
// English. Messages are templates: "{name}" is replaced by the parameter of
// that name.

"use strict";

(function (global) {
  const STORAGE_KEY = "ossgate.lang";
  const SUPPORTED = ["en", "zh-CN"];

  const MESSAGES = {
    en: {
      "page.title": "Upload files · ossgate",
      "page.heading": "Upload files",
      "page.intro": "Files go straight from your browser to Alibaba Cloud OSS. The server only signs each upload and records it once OSS confirms it.",
      "lang.switch": "中文",
      "lang.switchLabel": "切换到中文 (Switch to Chinese)",

      "limits.heading": "Upload limits",
      "limits.loading": "Loading the upload limits…",
      "limits.maxSize": "Maximum size per file: {size}",
      "limits.types": "Allowed types: {types}",
      "limits.anyType": "Allowed types: any",
      "limits.lifetime": "Each file gets its own upload token, valid for {seconds} s.",
      "limits.failed": "Could not load the upload limits: {message}",
      "limits.retry": "Try again",

      "auth.label": "Access token",
      "auth.hint": "This server requires an access token ({mode}). It is stored in this browser only and sent as a Bearer token.",
      "auth.save": "Save token",
      "auth.clear": "Forget token",
      "auth.saved": "Access token saved.",
      "auth.cleared": "Access token removed from this browser.",

      "drop.title": "Drop files here",
      "drop.or": "or",
      "drop.choose": "Choose files",
      "drop.paste": "You can also paste files or screenshots with Ctrl+V (⌘V on a Mac).",
      "drop.label": "Choose files to upload, or drop them here",

      "queue.heading": "This session",
      "queue.empty": "No files chosen yet.",
      "overall.label": "Overall progress",
      "overall.summary": "{finished} of {total} files finished · {sent} of {bytes} sent",
      "queue.retryFailed": "Retry all failed ({count})",
      "queue.clearFinished": "Clear finished",

      "file.cancel": "Cancel",
      "file.cancelLabel": "Cancel the upload of {name}",
      "file.retry": "Retry",
      "file.retryLabel": "Retry the upload of {name}",
      "file.progressLabel": "Upload progress of {name}",
      "file.speed": "{speed}/s",
      "file.open": "Open file",
      "file.thumbnailAlt": "Preview of {name}",
      "file.object": "Stored as {object}",

      "state.queued": "Waiting",
      "state.token": "Requesting an upload token…",
      "state.uploading": "Uploading",
      "state.processing": "Sent; waiting for the storage server to confirm…",
      "state.done": "Uploaded",
      "state.doneNoBody": "Uploaded (the storage server returned no details).",
      "state.unconfirmed": "Stored, but the server did not confirm it",
      "state.failed": "Failed",
      "state.rejected": "Not uploaded",
      "state.canceled": "Canceled",
      "state.waitingLimits": "Waiting for the upload limits…",

      "reject.tooLarge": "{size} is larger than the {max} limit.",
      "reject.type": "Type {type} is not allowed. Allowed: {types}.",

      "error.network": "The upload could not reach the storage server. Check the connection and the bucket's CORS rules.",
      "error.tokenNetwork": "Could not reach the app server to get an upload token.",
      "error.api": "The app server answered HTTP {status}.",
      "error.storage": "The storage server answered HTTP {status}.",
      "error.unauthorized": "Enter a valid access token above, then retry.",
      "error.badToken": "The app server sent an upload token without a form URL.",
      "error.detail": "Details: {detail}",

      // Errors of the app server's JSON API, by their "code".
      "apiError.EntityTooLarge": "The app server does not accept a file of {size}: it is over the size limit.",
      "apiError.InvalidContentType": "The app server does not accept files of type {type}.",
      "apiError.InvalidArgument": "The app server rejected the upload request as invalid.",
      "apiError.MissingToken": "No access token was sent.",
      "apiError.InvalidToken": "The access token was not accepted.",
      "apiError.TokenExpired": "The access token has expired.",
      "apiError.NotFound": "The app server could not find what the page asked for.",
      "apiError.LegacyPolicyWithSts": "This server signs uploads with STS credentials, which the legacy policy endpoint cannot use.",
      "apiError.Unavailable": "The app server's database is not reachable. Try again later.",
      "apiError.InternalError": "The app server failed to handle the request. Try again later.",

      // Errors of the storage server (OSS error XML), by their <Code>.
      "ossError.AccessDenied": "The storage server denied the upload.",
      "ossError.PolicyExpired": "The upload form expired before the file arrived. Retry to get a new one.",
      "ossError.PolicyConditionFailed": "The file does not match the conditions of its upload form.",
      "ossError.RequestTimeTooSkewed": "The upload form is too old, or the server's clock is wrong. Retry to get a new one.",
      "ossError.InvalidPolicyDocument": "The storage server rejected the upload form as invalid.",
      "ossError.SignatureDoesNotMatch": "The storage server rejected the upload signature. Check the app server's AccessKey.",
      "ossError.InvalidAccessKeyId": "The storage server does not recognize the app server's AccessKey.",
      "ossError.EntityTooLarge": "The storage server rejected the file ({size}) as larger than its upload form allows.",
      "ossError.EntityTooSmall": "The storage server rejected the file ({size}) as smaller than its upload form allows.",
      "ossError.NoSuchBucket": "The bucket does not exist.",
      "ossError.FileAlreadyExists": "A file with this name already exists in the bucket.",
      "ossError.InvalidObjectName": "The storage server does not accept this file name.",
      "ossError.MalformedPOSTRequest": "The storage server could not read the upload form.",
      "ossError.CallbackFailed": "The file is stored, but the storage server got no confirmation from the app server, so it may be missing from “My uploads”.",
      "ossError.InternalError": "The storage server failed. Try again later.",

      "uploads.heading": "My uploads",
      "uploads.refresh": "Refresh",
      "uploads.more": "Load more",
      "uploads.loading": "Loading your uploads…",
      "uploads.empty": "No uploads yet.",
      "uploads.failed": "Could not load your uploads: {message}",
      "uploads.dimensions": "{width} × {height}",

      "announce.added": "{count} file(s) added.",
      "announce.done": "{name} uploaded.",
      "announce.unconfirmed": "{name} was stored, but the server did not confirm it.",
      "announce.failed": "{name} failed: {reason}",
      "announce.rejected": "{name} will not be uploaded: {reason}",
      "announce.canceled": "Upload of {name} canceled.",
      "announce.language": "Language: English",
    },

    "zh-CN": {
      "page.title": "上传文件 · ossgate",
      "page.heading": "上传文件",
      "page.intro": "文件从浏览器直接上传到阿里云 OSS。服务器只负责为每次上传签名，并在 OSS 确认后记录。",
      "lang.switch": "English",
      "lang.switchLabel": "Switch to English（切换到英文）",

      "limits.heading": "上传限制",
      "limits.loading": "正在读取上传限制…",
      "limits.maxSize": "单个文件最大 {size}",
      "limits.types": "允许的类型：{types}",
      "limits.anyType": "允许的类型：不限",
      "limits.lifetime": "每个文件单独获取上传凭证，有效期 {seconds} 秒。",
      "limits.failed": "无法读取上传限制：{message}",
      "limits.retry": "重试",

      "auth.label": "访问令牌",
      "auth.hint": "此服务器需要访问令牌（{mode}）。令牌只保存在本浏览器中，并以 Bearer 方式发送。",
      "auth.save": "保存令牌",
      "auth.clear": "清除令牌",
      "auth.saved": "访问令牌已保存。",
      "auth.cleared": "已从本浏览器中清除访问令牌。",

      "drop.title": "将文件拖放到这里",
      "drop.or": "或",
      "drop.choose": "选择文件",
      "drop.paste": "也可以用 Ctrl+V（Mac 上为 ⌘V）粘贴文件或截图。",
      "drop.label": "选择要上传的文件，或将文件拖放到这里",

      "queue.heading": "本次上传",
      "queue.empty": "尚未选择文件。",
      "overall.label": "总进度",
      "overall.summary": "已完成 {finished}/{total} 个文件 · 已发送 {sent}/{bytes}",
      "queue.retryFailed": "重试全部失败项（{count}）",
      "queue.clearFinished": "清除已结束项",

      "file.cancel": "取消",
      "file.cancelLabel": "取消上传 {name}",
      "file.retry": "重试",
      "file.retryLabel": "重新上传 {name}",
      "file.progressLabel": "{name} 的上传进度",
      "file.speed": "{speed}/秒",
      "file.open": "打开文件",
      "file.thumbnailAlt": "{name} 的预览",
      "file.object": "对象名：{object}",

      "state.queued": "等待中",
      "state.token": "正在获取上传凭证…",
      "state.uploading": "正在上传",
      "state.processing": "已发送，等待存储服务器确认…",
      "state.done": "上传成功",
      "state.doneNoBody": "上传成功（存储服务器未返回详情）。",
      "state.unconfirmed": "已存储，但服务器未确认",
      "state.failed": "上传失败",
      "state.rejected": "未上传",
      "state.canceled": "已取消",
      "state.waitingLimits": "正在等待上传限制…",

      "reject.tooLarge": "文件大小 {size} 超过 {max} 的限制。",
      "reject.type": "不允许的类型 {type}。允许的类型：{types}。",

      "error.network": "无法连接存储服务器。请检查网络以及存储空间的跨域（CORS）规则。",
      "error.tokenNetwork": "无法连接应用服务器获取上传凭证。",
      "error.api": "应用服务器返回 HTTP {status}。",
      "error.storage": "存储服务器返回 HTTP {status}。",
      "error.unauthorized": "请在上方填写有效的访问令牌，然后重试。",
      "error.badToken": "应用服务器返回的上传凭证缺少表单地址。",
      "error.detail": "详细信息：{detail}",

      "apiError.EntityTooLarge": "应用服务器不接受 {size} 的文件：超过了大小限制。",
      "apiError.InvalidContentType": "应用服务器不接受 {type} 类型的文件。",
      "apiError.InvalidArgument": "应用服务器认为上传请求的参数无效。",
      "apiError.MissingToken": "请求中没有访问令牌。",
      "apiError.InvalidToken": "访问令牌无效。",
      "apiError.TokenExpired": "访问令牌已过期。",
      "apiError.NotFound": "应用服务器找不到所请求的内容。",
      "apiError.LegacyPolicyWithSts": "此服务器使用 STS 临时凭证签名，旧版签名接口无法使用。",
      "apiError.Unavailable": "应用服务器的数据库暂时无法连接，请稍后再试。",
      "apiError.InternalError": "应用服务器处理请求时出错，请稍后再试。",

      "ossError.AccessDenied": "存储服务器拒绝了这次上传。",
      "ossError.PolicyExpired": "上传表单在文件到达前已过期。请重试以获取新的表单。",
      "ossError.PolicyConditionFailed": "文件不符合上传表单的条件。",
      "ossError.RequestTimeTooSkewed": "上传表单已失效，或服务器时间不准。请重试以获取新的表单。",
      "ossError.InvalidPolicyDocument": "存储服务器认为上传表单无效。",
      "ossError.SignatureDoesNotMatch": "存储服务器拒绝了上传签名。请检查应用服务器的 AccessKey。",
      "ossError.InvalidAccessKeyId": "存储服务器不认识应用服务器的 AccessKey。",
      "ossError.EntityTooLarge": "存储服务器拒绝了该文件（{size}）：超过上传表单允许的大小。",
      "ossError.EntityTooSmall": "存储服务器拒绝了该文件（{size}）：小于上传表单允许的大小。",
      "ossError.NoSuchBucket": "存储空间（Bucket）不存在。",
      "ossError.FileAlreadyExists": "存储空间中已有同名文件。",
      "ossError.InvalidObjectName": "存储服务器不接受这个文件名。",
      "ossError.MalformedPOSTRequest": "存储服务器无法读取上传表单。",
      "ossError.CallbackFailed": "文件已存储，但存储服务器没有得到应用服务器的确认，因此它可能不在“我的上传”中。",
      "ossError.InternalError": "存储服务器出错，请稍后再试。",

      "uploads.heading": "我的上传",
      "uploads.refresh": "刷新",
      "uploads.more": "加载更多",
      "uploads.loading": "正在读取上传记录…",
      "uploads.empty": "还没有上传记录。",
      "uploads.failed": "无法读取上传记录：{message}",
      "uploads.dimensions": "{width} × {height}",

      "announce.added": "已添加 {count} 个文件。",
      "announce.done": "{name} 上传成功。",
      "announce.unconfirmed": "{name} 已存储，但服务器未确认。",
      "announce.failed": "{name} 上传失败：{reason}",
      "announce.rejected": "{name} 不会上传：{reason}",
      "announce.canceled": "已取消上传 {name}。",
      "announce.language": "语言：中文",
    },
  };

  let current = detectLanguage();

  /** Picks the saved language, else the first supported browser language, else English. */
  function detectLanguage() {
    const saved = readSavedLanguage();
    if (saved) {
      return saved;
    }
    const preferred = global.navigator.languages || [global.navigator.language || ""];
    for (const tag of preferred) {
      const lower = String(tag).toLowerCase();
      if (lower.startsWith("zh")) {
        return "zh-CN";
      }
      if (lower.startsWith("en")) {
        return "en";
      }
    }
    return "en";
  }

  function readSavedLanguage() {
    try {
      const saved = global.localStorage.getItem(STORAGE_KEY);
      return SUPPORTED.includes(saved) ? saved : null;
    } catch (error) {
      // Storage can be disabled (private mode, blocked cookies): fall back to the browser's language.
      return null;
    }
  }

  /** Switches the language and saves the choice for the next visit. */
  function setLanguage(language) {
    if (!SUPPORTED.includes(language)) {
      throw new Error(`unsupported language ${language}; expected one of ${SUPPORTED.join(", ")}`);
    }
    current = language;
    try {
      global.localStorage.setItem(STORAGE_KEY, language);
    } catch (error) {
      // The choice then lasts for this page view only.
    }
  }

  /** Fills the message template `key` of the current language with `params`. */
  function translate(key, params) {
    const template = MESSAGES[current][key] ?? MESSAGES.en[key];
    if (template === undefined) {
      return key;
    }
    return template.replace(/\{(\w+)\}/g, (placeholder, name) =>
      params && params[name] !== undefined ? String(params[name]) : placeholder,
    );
  }

  /** Tells whether `key` has a message in English, the language every key must have. */
  function has(key) {
    return Object.prototype.hasOwnProperty.call(MESSAGES.en, key);
  }

  /** Sets the text of every element with `data-i18n` and each attribute named in `data-i18n-attr`. */
  function translateDocument(root) {
    for (const element of root.querySelectorAll("[data-i18n]")) {
      element.textContent = translate(element.dataset.i18n);
    }
    // data-i18n-attr="aria-label:drop.label placeholder:auth.label"
    for (const element of root.querySelectorAll("[data-i18n-attr]")) {
      for (const pair of element.dataset.i18nAttr.split(/\s+/)) {
        const [attribute, key] = pair.split(":");
        element.setAttribute(attribute, translate(key));
      }
    }
  }

  global.OssgateI18n = {
    SUPPORTED,
    language: () => current,
    setLanguage,
    translate,
    has,
    translateDocument,
  };
})(window);
