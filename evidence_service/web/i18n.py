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
    # -- merchant portal (evidence_service.web.portal) and officer pages for served documents ----
    "portal.name": {"zh": "执法文书电子送达平台", "en": "Electronic Service Portal"},
    "portal.nav.label": {"zh": "送达平台", "en": "Portal"},
    "portal.nav.documents": {"zh": "我的文书", "en": "My documents"},
    "portal.back": {"zh": "返回我的文书", "en": "Back to my documents"},
    "portal.login.title": {"zh": "商户登录", "en": "Merchant log in"},
    "portal.login.intro": {
        "zh": "使用统一社会信用代码和您设置的密码登录。",
        "en": "Log in with your unified social credit code and the password you chose.",
    },
    "portal.login.submit": {"zh": "登录", "en": "Log in"},
    "portal.login.first_time": {
        "zh": "第一次使用？请用执法人员提供的设置码",
        "en": "First time here? Use the setup code the officer gave you:",
    },
    "portal.setup.title": {"zh": "开通账户", "en": "Set up your account"},
    "portal.setup.intro": {
        "zh": "输入执法人员提供的一次性设置码，设置登录密码并填写送达联系方式。开通后须先签署"
        "《送达地址确认书》，同意通过本平台接收电子送达的文书。",
        "en": "Enter the one-time setup code the officer gave you, choose a password and give "
        "your contact details. You will then sign the service-address confirmation, consenting "
        "to receive documents electronically through this portal.",
    },
    "portal.setup.code_help": {
        "zh": "设置码只能使用一次，有效期 7 天；大小写和连字符不影响。",
        "en": "The code works once and for 7 days; case and dashes do not matter.",
    },
    "portal.setup.contacts": {"zh": "送达联系方式", "en": "Contact for service"},
    "portal.setup.contacts_help": {
        "zh": "将写入《送达地址确认书》。",
        "en": "These go into the service-address confirmation.",
    },
    "portal.setup.submit": {"zh": "开通账户", "en": "Set up the account"},
    "portal.setup.busy": {
        "zh": "正在开通账户并签发您的签名证书，请稍候……",
        "en": "Setting up the account and issuing your signing certificate; please wait...",
    },
    "portal.field.credit_code": {"zh": "统一社会信用代码", "en": "Unified social credit code"},
    "portal.field.password": {"zh": "密码", "en": "Password"},
    "portal.field.setup_code": {"zh": "设置码", "en": "Setup code"},
    "portal.field.new_password": {
        "zh": "登录密码（至少 10 个字符）",
        "en": "Password (at least 10 characters)",
    },
    "portal.field.password_repeat": {"zh": "再次输入密码", "en": "Repeat the password"},
    "portal.field.contact_name": {"zh": "联系人（受送达人）", "en": "Contact person (addressee)"},
    "portal.field.phone": {"zh": "联系电话", "en": "Phone"},
    "portal.field.email": {"zh": "电子邮箱（可选）", "en": "E-mail (optional)"},
    "portal.field.address": {"zh": "送达地址", "en": "Address for service"},
    "portal.home.title": {"zh": "我的文书", "en": "My documents"},
    "portal.home.none": {
        "zh": "目前没有送达给您的文书。",
        "en": "No documents have been served on you.",
    },
    "portal.home.service_note": {
        "zh": "文书到达本账户之时即为送达之时，请及时查看。",
        "en": "A document is served the moment it reaches this account: check regularly.",
    },
    "portal.col.title": {"zh": "文书", "en": "Document"},
    "portal.col.served": {"zh": "送达时间", "en": "Served"},
    "portal.col.status": {"zh": "状态", "en": "Status"},
    "portal.col.version": {"zh": "版本", "en": "Version"},
    "portal.col.time": {"zh": "时间", "en": "Time"},
    "portal.col.file": {"zh": "文件", "en": "File"},
    "portal.col.size": {"zh": "大小（字节）", "en": "Size (bytes)"},
    "portal.kind.notice.served": {"zh": "待签收", "en": "Awaiting your receipt"},
    "portal.kind.notice.acknowledged": {"zh": "已签收", "en": "Receipt signed"},
    "portal.kind.notice.signed": {"zh": "已盖章", "en": "Sealed"},
    "portal.kind.notice.draft": {"zh": "草稿", "en": "Draft"},
    "portal.kind.address_confirmation.served": {"zh": "待签署", "en": "Awaiting your signature"},
    "portal.kind.address_confirmation.acknowledged": {"zh": "已签署", "en": "Signed"},
    "portal.kind.statement.signed": {"zh": "已提交", "en": "Submitted"},
    "portal.kind.proof_of_service.signed": {"zh": "已生成", "en": "Issued"},
    "portal.version.rendered": {"zh": "生成", "en": "Rendered"},
    "portal.version.unit-signed": {"zh": "执法机关盖章", "en": "Sealed by the authority"},
    "portal.version.officer-signed": {
        "zh": "承办人签名",
        "en": "Signed by the officer in charge",
    },
    "portal.version.merchant-signed": {"zh": "当事人签名", "en": "Signed by the party"},
    "portal.version.merchant-uploaded": {
        "zh": "当事人自行签名后上传",
        "en": "Signed by the party elsewhere, uploaded",
    },
    "portal.doc.number": {"zh": "文号", "en": "Number"},
    "portal.doc.unit": {"zh": "发文机关", "en": "Issued by"},
    "portal.doc.served_at": {"zh": "送达时间", "en": "Served at"},
    "portal.doc.signed_at": {"zh": "签收时间", "en": "Signed at"},
    "portal.doc.sha256": {"zh": "当前版本 SHA-256", "en": "SHA-256 of the current version"},
    "portal.doc.review": {"zh": "文书内容", "en": "The document"},
    "portal.doc.no_viewer": {
        "zh": "浏览器无法在页面内显示 PDF。",
        "en": "This browser cannot show the PDF in the page.",
    },
    "portal.doc.open_pdf": {"zh": "打开 PDF", "en": "Open the PDF"},
    "portal.doc.versions": {"zh": "版本记录", "en": "Versions"},
    "portal.doc.related": {"zh": "相关文书", "en": "Related documents"},
    "portal.consent.title": {
        "zh": "请先签署送达地址确认书",
        "en": "First, sign the address confirmation",
    },
    "portal.consent.text": {
        "zh": "电子送达须经您同意。请核对下方《送达地址确认书》的内容，确认无误后输入密码签署。"
        "签署前无法使用平台的其他功能。",
        "en": "Electronic service needs your consent. Check the service-address confirmation "
        "below and sign it with your password. The portal's other functions open after that.",
    },
    "portal.sign.title": {"zh": "签名", "en": "Sign"},
    "portal.sign.text": {
        "zh": "签名表示您已收到并阅读本文书（不表示同意其内容）。签名使用您的数字证书，"
        "并记录账户、认证方式、IP 地址、浏览器和签名前文书的哈希值。",
        "en": "Signing acknowledges that you received and read this document (not that you "
        "agree with it). It uses your digital certificate and records the account, how you "
        "authenticated, your IP address, browser and the document's hash before signing.",
    },
    "portal.sign.consent_text": {
        "zh": "签署即表示同意按上述地址和方式接收电子送达的文书。",
        "en": "Signing consents to electronic service at the address and in the way above.",
    },
    "portal.sign.password": {"zh": "再次输入登录密码", "en": "Your password, again"},
    "portal.sign.password_help": {
        "zh": "签名前须再次验证身份。",
        "en": "You confirm who you are before each signature.",
    },
    "portal.sign.submit": {"zh": "签名", "en": "Sign"},
    "portal.sign.busy": {
        "zh": "正在签名并加盖可信时间戳，请稍候……",
        "en": "Signing and time-stamping; please wait...",
    },
    "portal.upload.title": {"zh": "或：上传自行签名的 PDF", "en": "Or: upload a PDF you signed"},
    "portal.upload.text": {
        "zh": "如使用您自己的数字证书签名，请对上方 PDF 以增量方式签名（不要另存、打印或转换），"
        "然后上传。系统将核验签名、证书链以及文书内容未被改动。",
        "en": "To sign with your own certificate, sign the PDF above as an incremental update "
        "(do not re-save, print or convert it) and upload it. The signature, its certificate "
        "chain and that nothing else changed are checked.",
    },
    "portal.upload.file": {"zh": "已签名的 PDF", "en": "Signed PDF"},
    "portal.upload.submit": {"zh": "上传并核验", "en": "Upload and check"},
    "portal.upload.busy": {"zh": "正在核验签名……", "en": "Checking the signature..."},
    "portal.statement.link": {"zh": "提交陈述申辩", "en": "Submit a statement or defence"},
    "portal.statement.title": {"zh": "陈述申辩", "en": "Statement and defence"},
    "portal.statement.responds_to": {"zh": "针对文书", "en": "In reply to"},
    "portal.statement.text": {"zh": "陈述申辩内容", "en": "Your statement"},
    "portal.statement.attachments": {"zh": "附件", "en": "Attachments"},
    "portal.statement.attachments_help": {
        "zh": "最多 {n} 个文件，每个不超过 {mb} MB；支持 PDF、PNG、JPEG 和纯文本。",
        "en": "Up to {n} files of at most {mb} MB each: PDF, PNG, JPEG or plain text.",
    },
    "portal.statement.hearing": {"zh": "申请听证", "en": "I ask for a hearing"},
    "portal.statement.password_help": {
        "zh": "陈述申辩书将以您的数字证书签名，请再次输入密码。",
        "en": "The statement is signed with your certificate: enter your password again.",
    },
    "portal.statement.submit": {"zh": "签名并提交", "en": "Sign and submit"},
    "portal.statement.busy": {
        "zh": "正在生成并签署陈述申辩书，请稍候……",
        "en": "Making and signing the statement; please wait...",
    },
    "portal.done.signed": {"zh": "签名完成。", "en": "Signed."},
    "portal.done.uploaded": {"zh": "已接受您签名的文件。", "en": "Your signed file was accepted."},
    "portal.done.statement": {"zh": "陈述申辩已提交。", "en": "Your statement was submitted."},
    "portal.notfound.title": {"zh": "找不到该页面", "en": "Not found"},
    "portal.notfound.text": {
        "zh": "没有这个文书，或您无权查看。",
        "en": "There is no such document, or it is not yours to see.",
    },
    "portal.err.generic": {"zh": "操作未能完成。", "en": "That could not be done."},
    "portal.err.authentication_failed": {
        "zh": "统一社会信用代码或密码错误。",
        "en": "Wrong credit code or password.",
    },
    "portal.err.invalid_setup_code": {
        "zh": "设置码无效、已过期或已使用。",
        "en": "The setup code is invalid, expired or used.",
    },
    "portal.err.too_many_attempts": {
        "zh": "失败次数过多，已暂时锁定，请稍后再试。",
        "en": "Too many failed attempts: locked for a while, try again later.",
    },
    "portal.err.upload_rejected": {
        "zh": "上传的文件未被接受，原因如下：",
        "en": "The uploaded file was not accepted:",
    },
    "portal.err.already_signed": {"zh": "该文书已经签过名。", "en": "This is already signed."},
    "portal.err.not_signable": {"zh": "该文书现在不能签名。", "en": "This cannot be signed now."},
    "portal.err.conflict": {
        "zh": "文书状态已变化，请刷新后重试。",
        "en": "The document changed meanwhile; reload and retry.",
    },
    "portal.err.invalid_input": {"zh": "请更正以下内容：", "en": "Please correct:"},
    "portal.err.invalid_document_data": {"zh": "请更正以下内容：", "en": "Please correct:"},
    "portal.err.csrf": {
        "zh": "表单已过期，请返回、刷新后重试。",
        "en": "The form expired: go back, reload and retry.",
    },
    "docs.nav.documents": {"zh": "文书送达", "en": "Documents"},
    "docs.nav.merchants": {"zh": "商户", "en": "Merchants"},
    "docs.merchants.title": {"zh": "商户", "en": "Merchants"},
    "docs.merchants.list": {"zh": "本单位的商户", "en": "Merchants of your unit"},
    "docs.merchants.none": {"zh": "还没有商户。", "en": "No merchants yet."},
    "docs.invite.title": {"zh": "邀请商户开通电子送达", "en": "Invite a merchant"},
    "docs.invite.help": {
        "zh": "填写商户名称和统一社会信用代码，系统生成一次性设置码（7 天内有效）。",
        "en": "Give the merchant's name and credit code; you get a one-time setup code "
        "(valid for 7 days).",
    },
    "docs.invite.submit": {"zh": "生成设置码", "en": "Create setup code"},
    "docs.invite.new_code": {"zh": "重新生成设置码", "en": "New setup code"},
    "docs.invite.code_title": {"zh": "一次性设置码", "en": "One-time setup code"},
    "docs.invite.code_once": {
        "zh": "设置码只显示这一次，请交给商户；再次生成后旧码失效。",
        "en": "Shown only this once: hand it to the merchant. A new code cancels this one.",
    },
    "docs.invite.code_expires": {"zh": "有效期至", "en": "Valid until"},
    "docs.invite.code_where": {"zh": "商户开通地址：", "en": "The merchant sets up at:"},
    "docs.field.merchant_name": {"zh": "商户名称", "en": "Merchant name"},
    "docs.field.credit_code": {"zh": "统一社会信用代码", "en": "Unified social credit code"},
    "docs.field.credit_code_help": {
        "zh": "18 位，系统按 GB 32100-2015 校验最后一位校验码。",
        "en": "18 characters; the check character is verified (GB 32100-2015).",
    },
    "docs.field.template": {"zh": "文书种类", "en": "Document type"},
    "docs.field.data": {"zh": "文书内容（JSON）", "en": "Document data (JSON)"},
    "docs.field.data_help": {
        "zh": "当事人、发文机关和日期按所选商户、本单位和今天自动填写；其余字段按示例修改。",
        "en": "The party, issuing unit and date are filled in from the merchant, your unit and "
        "today; edit the other fields of the sample.",
    },
    "docs.merchant.invited": {"zh": "已邀请（未开通）", "en": "Invited"},
    "docs.merchant.active": {"zh": "已开通", "en": "Active"},
    "docs.merchant.disabled": {"zh": "已停用", "en": "Disabled"},
    "docs.merchant.no_consent": {
        "zh": "未签署送达地址确认书",
        "en": "Address confirmation not signed",
    },
    "docs.merchant.consent": {"zh": "同意电子送达", "en": "Consent to e-service"},
    "docs.merchant.phone": {"zh": "联系电话", "en": "Phone"},
    "docs.merchant.email": {"zh": "电子邮箱", "en": "E-mail"},
    "docs.merchant.cert": {"zh": "签名证书序列号", "en": "Signing certificate serial"},
    "docs.list.title": {"zh": "文书送达", "en": "Served documents"},
    "docs.list.none": {"zh": "还没有文书。", "en": "No documents yet."},
    "docs.new.title": {"zh": "制作文书", "en": "New document"},
    "docs.new.load_sample": {"zh": "载入示例", "en": "Load the sample"},
    "docs.new.submit": {"zh": "生成文书", "en": "Create document"},
    "docs.new.invalid": {"zh": "文书内容有误：", "en": "The document data is wrong:"},
    "docs.col.title": {"zh": "文书", "en": "Document"},
    "docs.col.merchant": {"zh": "商户", "en": "Merchant"},
    "docs.col.status": {"zh": "状态", "en": "Status"},
    "docs.col.served": {"zh": "送达时间", "en": "Served"},
    "docs.col.version": {"zh": "版本", "en": "Version"},
    "docs.col.time": {"zh": "时间", "en": "Time"},
    "docs.col.action": {"zh": "操作", "en": "Action"},
    "docs.col.actor": {"zh": "操作人", "en": "By"},
    "docs.status.draft": {"zh": "草稿（未盖章）", "en": "Draft (not sealed)"},
    "docs.status.signed": {"zh": "已盖章", "en": "Sealed"},
    "docs.status.served": {"zh": "已送达", "en": "Served"},
    "docs.status.acknowledged": {"zh": "当事人已签收", "en": "Receipt signed"},
    "docs.action.sign": {"zh": "加盖单位电子印章", "en": "Seal with the unit's seal"},
    "docs.action.officer_sign": {"zh": "承办人签名", "en": "Sign as officer"},
    "docs.action.serve": {"zh": "电子送达", "en": "Serve electronically"},
    "docs.action.proof": {"zh": "生成送达回证", "en": "Make the proof of service"},
    "docs.busy.render": {"zh": "正在生成文书……", "en": "Rendering the document..."},
    "docs.busy.sign": {
        "zh": "正在盖章并加盖可信时间戳……",
        "en": "Sealing and time-stamping...",
    },
    "docs.busy.officer_sign": {
        "zh": "正在以您的证书签名并加盖可信时间戳……",
        "en": "Signing with your certificate and time-stamping...",
    },
    "docs.busy.serve": {"zh": "正在送达……", "en": "Serving..."},
    "docs.busy.proof": {"zh": "正在生成送达回证……", "en": "Making the proof of service..."},
    "docs.done.sign": {"zh": "已盖章。", "en": "Sealed."},
    "docs.done.officer_sign": {"zh": "已签名。", "en": "Signed."},
    "docs.done.serve": {"zh": "已送达。", "en": "Served."},
    "docs.signers.title": {"zh": "签名顺序", "en": "Signatures in order"},
    "docs.signers.none": {"zh": "尚无签名。", "en": "No signature yet."},
    "docs.signer.unit-signed": {"zh": "行政机关印章", "en": "Seal of the authority"},
    "docs.signer.officer-signed": {"zh": "承办人", "en": "Officer in charge"},
    "docs.signer.merchant-signed": {"zh": "当事人签收", "en": "Acknowledged by the party"},
    "docs.signer.merchant-uploaded": {
        "zh": "当事人签收（自有证书）",
        "en": "Acknowledged by the party (own certificate)",
    },
    "docs.officer.badge": {"zh": "您的执法证号", "en": "Your badge number"},
    "docs.officer.no_badge": {
        "zh": "您的账户没有执法证号，不能以本人证书签名。请管理员设置：",
        "en": "Your account has no badge number, so you cannot sign with a certificate of "
        "your own. An administrator sets it with:",
    },
    "docs.done.proof": {"zh": "送达回证已生成。", "en": "Proof of service made."},
    "docs.service.title": {"zh": "送达记录", "en": "Service record"},
    "docs.service.served_at": {
        "zh": "送达时间（到达商户账户）",
        "en": "Served (reached the merchant's account)",
    },
    "docs.service.served_by": {"zh": "发送人", "en": "Sent by"},
    "docs.service.opened": {"zh": "首次打开", "en": "First opened"},
    "docs.service.signed": {"zh": "当事人签收", "en": "Receipt signed"},
    "docs.related": {"zh": "相关文书", "en": "Related documents"},
    "docs.attachments": {"zh": "附件", "en": "Attachments"},
    "docs.versions": {"zh": "版本", "en": "Versions"},
    "docs.audit": {"zh": "审计记录", "en": "Audit trail"},
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
