"""Chinese and English for the web UI.

A deliberately small catalogue rather than gettext: the UI has few strings, legal staff can
review both languages side by side in one file, and a test checks that no key lacks a language.
The language comes from the ``lang`` cookie, else the browser's Accept-Language, else Chinese.
"""

from __future__ import annotations

from fastapi import Request

LANGS = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "app.name": {"zh": "电子证据固定服务", "en": "Evidence Service"},
    "nav.skip": {"zh": "跳到主要内容", "en": "Skip to main content"},
    "nav.captures": {"zh": "取证记录", "en": "Captures"},
    "nav.tokens": {"zh": "API 令牌", "en": "API tokens"},
    "nav.password": {"zh": "修改密码", "en": "Change password"},
    "nav.logout": {"zh": "退出登录", "en": "Log out"},
    "nav.verify": {"zh": "验证证据包", "en": "Verify a package"},
    "nav.trust": {"zh": "信任证书包", "en": "Trust bundle"},
    "nav.api": {"zh": "API 文档", "en": "API docs"},
    "lang.switch": {"zh": "English", "en": "中文"},
    "login.title": {"zh": "登录", "en": "Log in"},
    "login.username": {"zh": "用户名", "en": "User name"},
    "login.password": {"zh": "密码", "en": "Password"},
    "login.submit": {"zh": "登录", "en": "Log in"},
    "login.failed": {"zh": "用户名或密码错误。", "en": "Wrong user name or password."},
    "password.title": {"zh": "修改密码", "en": "Change password"},
    "password.must": {
        "zh": "这是一次性密码，请先设置新密码。",
        "en": "This was a one-time password: choose a new one to continue.",
    },
    "password.current": {"zh": "当前密码", "en": "Current password"},
    "password.new": {
        "zh": "新密码（至少 10 个字符）",
        "en": "New password (at least 10 characters)",
    },
    "password.repeat": {"zh": "再次输入新密码", "en": "Repeat the new password"},
    "password.submit": {"zh": "保存", "en": "Save"},
    "password.mismatch": {"zh": "两次输入的新密码不一致。", "en": "The new passwords differ."},
    "password.short": {"zh": "新密码至少需要 10 个字符。", "en": "The new password is too short."},
    "password.wrong": {"zh": "当前密码错误。", "en": "The current password is wrong."},
    "password.done": {"zh": "密码已修改。", "en": "Password changed."},
    "capture.new": {"zh": "网页取证", "en": "Capture a web page"},
    "capture.url": {"zh": "商品或订单页面网址", "en": "Listing or order page URL"},
    "capture.url.help": {
        "zh": "以 http:// 或 https:// 开头的完整网址。",
        "en": "The full address, starting with http:// or https://.",
    },
    "capture.cookies": {"zh": "登录会话 Cookie（可选）", "en": "Session cookies (optional)"},
    "capture.cookies.help": {
        "zh": "订单页面需要登录时，上传 cookies.txt 或 Playwright JSON 文件。仅用于本次取证，"
        "不会明文保存，证据包中的 Cookie 值会被隐去。",
        "en": "For pages behind a login: a cookies.txt or Playwright JSON file. Used for this "
        "capture only, never stored in clear; values are redacted from the package.",
    },
    "capture.submit": {"zh": "固定证据", "en": "Capture evidence"},
    "capture.list": {"zh": "最近的取证", "en": "Recent captures"},
    "capture.none": {"zh": "还没有取证记录。", "en": "No captures yet."},
    "capture.col.time": {"zh": "提交时间", "en": "Requested"},
    "capture.col.url": {"zh": "网址", "en": "URL"},
    "capture.col.status": {"zh": "状态", "en": "Status"},
    "capture.title": {"zh": "取证详情", "en": "Capture"},
    "status.queued": {"zh": "排队中", "en": "Queued"},
    "status.loading": {"zh": "加载页面", "en": "Loading"},
    "status.sealing": {"zh": "封存（签名与时间戳）", "en": "Sealing"},
    "status.stored": {"zh": "已存证", "en": "Stored"},
    "status.failed": {"zh": "失败", "en": "Failed"},
    "outcome.complete": {"zh": "完整", "en": "Complete"},
    "outcome.partial": {"zh": "不完整（触发限制）", "en": "Partial (a limit was hit)"},
    "progress.label": {"zh": "进度", "en": "Progress"},
    "progress.waiting": {"zh": "等待原因", "en": "Waiting because"},
    "result.failed": {
        "zh": "取证失败，未生成证据包。",
        "en": "The capture failed; nothing was sealed.",
    },
    "result.partial": {
        "zh": "注意：取证触发了限制，证据包不完整。",
        "en": "Warning: a limit was hit; this package is partial.",
    },
    "result.limits": {"zh": "触发的限制", "en": "Limits hit"},
    "result.error": {"zh": "错误", "en": "Error"},
    "result.requested": {"zh": "请求网址", "en": "Requested URL"},
    "result.final": {"zh": "最终网址", "en": "Final URL"},
    "result.http": {"zh": "HTTP 状态", "en": "HTTP status"},
    "result.page_title": {"zh": "页面标题", "en": "Page title"},
    "result.trusted_time": {"zh": "可信时间（RFC 3161）", "en": "Trusted time (RFC 3161)"},
    "result.tsa": {"zh": "时间戳机构", "en": "Time-stamp authority"},
    "result.serial": {"zh": "时间戳序列号", "en": "Token serial"},
    "result.window": {"zh": "取证起止（本机时钟）", "en": "Capture start/end (local clock)"},
    "result.authenticated": {"zh": "登录状态取证", "en": "Authenticated capture"},
    "result.cookie_names": {"zh": "使用的 Cookie 名称", "en": "Cookie names sent"},
    "result.package": {"zh": "证据包（WACZ）", "en": "Evidence package (WACZ)"},
    "result.screenshot": {"zh": "截图", "en": "Screenshot"},
    "result.pdf": {"zh": "PDF 快照", "en": "PDF snapshot"},
    "result.provenance": {"zh": "取证环境与来源说明", "en": "Provenance summary"},
    "result.provenance_json": {"zh": "来源数据（JSON）", "en": "Provenance (JSON)"},
    "result.hashes": {"zh": "文件哈希（SHA-256）", "en": "File hashes (SHA-256)"},
    "result.package_hash": {"zh": "证据包 SHA-256", "en": "Package SHA-256"},
    "result.download": {"zh": "下载", "en": "Download"},
    "result.yes": {"zh": "是", "en": "Yes"},
    "result.no": {"zh": "否", "en": "No"},
    "tokens.title": {"zh": "API 令牌", "en": "API tokens"},
    "tokens.name": {"zh": "令牌名称", "en": "Token name"},
    "tokens.create": {"zh": "创建令牌", "en": "Create token"},
    "tokens.created": {
        "zh": "新令牌（只显示这一次，请妥善保存）：",
        "en": "New token (shown only once, keep it safe):",
    },
    "tokens.revoke": {"zh": "吊销", "en": "Revoke"},
    "tokens.none": {"zh": "没有令牌。", "en": "No tokens."},
    "tokens.usage": {
        "zh": "在请求头中使用：Authorization: Bearer <令牌>",
        "en": "Send it as: Authorization: Bearer <token>",
    },
    "error.title": {"zh": "出错了", "en": "Something went wrong"},
    # -- evidence seal: certificate, transparency log, public verification page ----------
    "result.certificate": {"zh": "取证证书（PDF）", "en": "Evidence certificate (PDF)"},
    "result.manifest_hash": {"zh": "取证清单 SHA-256", "en": "Manifest SHA-256"},
    "result.log_entry": {"zh": "透明日志条目", "en": "Transparency log entry"},
    "result.log_id": {"zh": "日志标识", "en": "Log id"},
    "result.leaf_index": {"zh": "条目序号", "en": "Leaf index"},
    "result.leaf_hash": {"zh": "叶哈希", "en": "Leaf hash"},
    "result.verify_link": {"zh": "公开核验页面", "en": "Public verification page"},
    "result.proofs": {
        "zh": "证明文件（日志证明与存档时间戳）",
        "en": "Proofs (log proof, archive time-stamps)",
    },
    "verify.title": {"zh": "取证核验", "en": "Capture verification"},
    "verify.intro": {
        "zh": "以下是该次取证的公开信息。证据包可使用信任证书包离线核验。",
        "en": "The public facts of this capture. The evidence package can be verified offline "
        "with the trust bundle.",
    },
    "verify.target": {"zh": "取证对象与时间", "en": "What was captured, and when"},
    "verify.private": {
        "zh": "该取证使用了登录会话，截图与页面内容不公开。",
        "en": "This capture used a login session: its screenshot and contents are not public.",
    },
    "verify.included": {
        "zh": "已包含在已签名的日志树中，树大小：",
        "en": "Included in the signed tree head of size",
    },
    "verify.not_included": {
        "zh": "尚未包含在已发布的签名日志树中（每隔几分钟发布一次）。",
        "en": "Not yet covered by a published signed tree head (published every few minutes).",
    },
    "verify.proof_json": {"zh": "包含证明（JSON）", "en": "Inclusion proof (JSON)"},
    "verify.check_package": {"zh": "核验证据包", "en": "Verify an evidence package"},
    # -- court verifier: upload page /verify (signing.verify) -------------------------------
    "verify.upload.title": {"zh": "核验证据文件", "en": "Verify evidence"},
    "verify.upload.intro": {
        "zh": "上传证据包（.wacz）、已签名的 PDF（如取证证书）或 RFC 3161 时间戳，"
        "查看逐项核验报告。无需登录，文件仅用于本次核验，不会保存。",
        "en": "Upload an evidence package (.wacz), a signed PDF (such as an evidence certificate) "
        "or an RFC 3161 time-stamp to get a check-by-check report. No login needed; the file "
        "is used for this verification only and is not kept.",
    },
    "verify.upload.offline": {
        "zh": "如需完全不依赖本服务，可下载信任证书包，用 evidence verify 命令离线核验：",
        "en": "To rely on nothing from this service, download the trust bundle and verify "
        "offline with the evidence verify command:",
    },
    "verify.upload.file": {"zh": "要核验的文件", "en": "File to verify"},
    "verify.upload.file_help": {
        "zh": "可将文件拖放到此处。支持 .wacz、.pdf、.tsr。",
        "en": "You may drop the file here. Accepts .wacz, .pdf, .tsr.",
    },
    "verify.upload.trust": {"zh": "信任证书包（可选）", "en": "Trust bundle (optional)"},
    "verify.upload.trust_help": {
        "zh": "PEM 格式的根证书（可含中间证书、CRL、公钥）。不提供时使用本服务自己的信任证书包，"
        "报告中会注明。",
        "en": "PEM root certificates (may add intermediates, CRLs, public keys). Without it, "
        "this service's own trust bundle is used, and the report says so.",
    },
    "verify.upload.more": {"zh": "更多选项", "en": "More options"},
    "verify.upload.proofs": {
        "zh": "证明文件（.proofs.json，可选）",
        "en": "Proofs file (.proofs.json, optional)",
    },
    "verify.upload.proofs_help": {
        "zh": "证据包的透明日志收录证明与归档时间戳。",
        "en": "The package's transparency-log inclusion proof and archive time-stamps.",
    },
    "verify.upload.data": {
        "zh": "被加盖时间戳的文件（可选）",
        "en": "Time-stamped file (optional)",
    },
    "verify.upload.data_help": {
        "zh": "仅在核验单独的 RFC 3161 时间戳时需要。",
        "en": "Only needed to verify a bare RFC 3161 time-stamp.",
    },
    "verify.upload.submit": {"zh": "开始核验", "en": "Verify"},
    "verify.upload.uploading": {"zh": "正在上传", "en": "Uploading"},
    "verify.upload.verifying": {"zh": "上传完成，正在核验……", "en": "Uploaded; verifying..."},
    "verify.upload.failed": {"zh": "上传失败，请重试。", "en": "The upload failed; try again."},
    "verify.upload.report_title": {"zh": "核验报告", "en": "Verification report"},
    "verify.upload.actions": {"zh": "报告操作", "en": "Report actions"},
    "verify.upload.again": {"zh": "核验另一个文件", "en": "Verify another file"},
    "verify.upload.download_json": {"zh": "下载 JSON 报告", "en": "Download the JSON report"},
    "verify.upload.print": {"zh": "打印 / 另存为 PDF", "en": "Print / save as PDF"},
    "verify.upload.report_note": {
        "zh": "报告未保存在服务器上；请下载或打印留存。JSON 报告的",
        "en": "The report is not kept on the server: download or print it. The JSON report's",
    },
}


def language(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get("lang")
    if chosen in LANGS:
        return chosen
    accept = request.headers.get("accept-language", "").lower()
    for part in accept.split(","):
        tag = part.split(";")[0].strip()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "zh"


def translate(lang: str, key: str) -> str:
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["en"]
