"""The provenance document: what was captured, how, with what, from where.

The JSON form is machine-checkable and goes into the WARC as a ``resource`` record (so the
package seal covers it); the HTML form is the same facts for a judge, an officer or the
merchant, with bilingual labels (中文 / English). Nothing here is computed: the HTML only
shows what the JSON holds.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

FORMAT = "evidence-service/capture-provenance/1"


def certificate_info(der: bytes) -> dict[str, Any]:
    """PEM, SHA-256 of the DER and the fields a reader checks first."""
    pem = "-----BEGIN CERTIFICATE-----\n"
    b64 = base64.b64encode(der).decode("ascii")
    pem += "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    pem += "\n-----END CERTIFICATE-----\n"
    info: dict[str, Any] = {"sha256": hashlib.sha256(der).hexdigest(), "pem": pem}
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        info["parse_error"] = str(exc)
        return info
    info.update(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial_number=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc.isoformat().replace("+00:00", "Z"),
        not_after=cert.not_valid_after_utc.isoformat().replace("+00:00", "Z"),
    )
    return info


def pem_certificates(pem_bytes: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem_bytes)


def ca_summary(cert: x509.Certificate) -> dict[str, str]:
    der = cert.public_bytes(serialization.Encoding.DER)
    return {
        "subject": cert.subject.rfc4514_string(),
        "sha256": hashlib.sha256(der).hexdigest(),
    }


def to_json_bytes(prov: dict[str, Any]) -> bytes:
    """UTF-8 JSON; values JSON cannot hold (e.g. a datetime in the caller's context) as str."""
    text = json.dumps(prov, ensure_ascii=False, indent=2, default=str)
    return (text + "\n").encode()


# ---------------------------------------------------------------------- HTML

_CSS = """
body{font-family:"WenQuanYi Zen Hei","Noto Sans CJK SC",sans-serif;margin:2em;color:#111;
max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #999;margin-top:1.6em}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid #bbb;padding:4px 6px;vertical-align:top;text-align:left;
word-break:break-all}
th{background:#f0f0f0;width:28%;font-weight:normal}table.list th{width:auto}
pre{white-space:pre-wrap;word-break:break-all;font-size:.8em;background:#f8f8f8;padding:4px}
.partial{color:#b00;font-weight:bold}.ok{color:#060;font-weight:bold}
.small{font-size:.85em;color:#444}
"""


def _e(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是 / yes" if value else "否 / no"
    if isinstance(value, list | dict):
        return f"<pre>{html.escape(json.dumps(value, ensure_ascii=False, indent=1))}</pre>"
    return html.escape(str(value))


def _row(zh: str, en: str, value: Any, raw: bool = False) -> str:
    cell = value if raw else _e(value)
    label = f"{html.escape(zh)}<br><span class=small>{html.escape(en)}</span>"
    return f"<tr><th>{label}</th><td>{cell}</td></tr>"


def _table(rows: list[str]) -> str:
    return "<table>" + "".join(rows) + "</table>"


def _h2(zh: str, en: str) -> str:
    return f"<h2>{html.escape(zh)} / {html.escape(en)}</h2>"


def render_html(p: dict[str, Any]) -> str:
    b = p.get("browser", {})
    env = p.get("environment", {})
    out: list[str] = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        "<title>网页取证过程记录 / Web capture provenance</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>网页取证过程记录<br><span class=small>Web capture provenance</span></h1>",
    ]
    outcome = p.get("outcome")
    badge = (
        "<span class=ok>完整 / complete</span>"
        if outcome == "complete"
        else "<span class=partial>部分（达到限制）/ partial (limit reached)</span>"
    )
    out.append(_h2("概要", "Summary"))
    out.append(
        _table(
            [
                _row("请求网址", "Requested URL", p.get("requested_url")),
                _row("最终网址", "Final URL", p.get("final_url")),
                _row("页面标题", "Page title", p.get("title")),
                _row("HTTP 状态码", "HTTP status", p.get("http_status")),
                _row("结果", "Outcome", badge, raw=True),
                _row("达到的限制", "Limits hit", ", ".join(p.get("limits_hit", [])) or None),
                _row("开始时间 (UTC)", "Capture started (UTC)", p.get("started_at")),
                _row("结束时间 (UTC)", "Capture ended (UTC)", p.get("ended_at")),
                _row("资源数", "Resources recorded", p.get("resource_count")),
                _row("字节数", "Bytes recorded", p.get("total_bytes")),
                _row("是否登录", "Authenticated", p.get("authentication", {}).get("authenticated")),
            ]
        )
    )
    chain = p.get("redirect_chain", [])
    if chain:
        out.append(_h2("重定向链", "Redirect chain"))
        rows = [
            f"<tr><td>{i + 1}</td><td>{_e(h.get('status'))}</td><td>{_e(h.get('url'))}</td>"
            f"<td>{_e(h.get('location'))}</td><td>{_e(h.get('server_ip'))}</td></tr>"
            for i, h in enumerate(chain)
        ]
        out.append(
            "<table class=list><tr><th>#</th><th>状态 Status</th><th>网址 URL</th>"
            "<th>跳转到 Location</th><th>服务器 IP</th></tr>" + "".join(rows) + "</table>"
        )

    out.append(_h2("浏览器", "Browser"))
    out.append(
        _table(
            [
                _row("浏览器", "Browser", f"{b.get('name')} {b.get('version')}"),
                _row("用户代理", "User agent (as sent)", b.get("user_agent")),
                _row("视口", "Viewport", b.get("viewport")),
                _row("设备像素比", "Device scale factor", b.get("device_scale_factor")),
                _row(
                    "模拟设备",
                    "Emulated device",
                    (b.get("emulated_device") or {}).get("name") or "无 / none (desktop)",
                ),
                _row("设备参数", "Device descriptor", b.get("emulated_device")),
                _row("语言", "Accept-Language", b.get("accept_language")),
                _row("页面语言", "navigator.language", b.get("navigator_language")),
                _row("时区", "Time zone (page dates)", b.get("timezone")),
                _row("无头模式", "Headless", b.get("headless")),
                _row("启动参数", "Launch arguments", " ".join(b.get("launch_args") or [])),
                _row("实际命令行", "Actual command line", " ".join(b.get("command_line") or [])),
            ]
        )
    )

    out.append(_h2("取证环境清洁性检查", "Capture environment checks"))
    clean = env.get("clean_profile", {})
    proxy = env.get("proxy", {})
    out.append(
        _table(
            [
                _row("全新浏览器环境", "Fresh browser context", clean.get("fresh_context")),
                _row("扩展程序", "Extensions", clean.get("extensions")),
                _row("预置 Cookie", "Cookies preloaded", clean.get("cookies_preloaded")),
                _row("缓存", "Cache", clean.get("cache")),
                _row("Service Worker", "Service workers", clean.get("service_workers")),
                _row("额外信任的根证书", "Extra trusted CAs", env.get("extra_trusted_cas")),
                _row("DNS 服务器", "Resolver (resolv.conf)", env.get("resolver")),
                _row("hosts 文件", "Hosts file entries", env.get("hosts_file")),
                _row(
                    "代理（环境变量）",
                    "Proxy (environment)",
                    proxy.get("environment") or "无 / none",
                ),
                _row("代理（浏览器）", "Proxy (Chromium)", proxy.get("chromium")),
                _row("时钟校准", "Clock check", env.get("clock")),
                _row("主机", "Machine", env.get("machine")),
            ]
        )
    )

    out.append(_h2("服务器、DNS 与证书", "Servers, DNS and TLS certificates"))
    for host, h in p.get("hosts", {}).items():
        rows = [
            _row(
                "服务器 IP（浏览器连接）", "Server IP (browser connected to)", h.get("server_ips")
            ),
            _row("DNS 解析结果", "DNS answer", h.get("dns")),
            _row("出口地址", "Outgoing interface address", h.get("outgoing_address")),
        ]
        tls = h.get("tls")
        if tls:
            rows.append(
                _row(
                    "TLS 协议",
                    "TLS protocol / cipher",
                    f"{tls.get('protocol')} {tls.get('cipher') or ''}",
                )
            )
            for i, c in enumerate(tls.get("certificate_chain", [])):
                rows.append(
                    _row(
                        f"证书 {i}",
                        f"Certificate {i}",
                        f"{_e(c.get('subject'))}<br>颁发者 / issuer: {_e(c.get('issuer'))}<br>"
                        f"有效期 / valid: {_e(c.get('not_before'))} – {_e(c.get('not_after'))}<br>"
                        f"SHA-256: <code>{_e(c.get('sha256'))}</code><pre>{_e(c.get('pem'))}</pre>",
                        raw=True,
                    )
                )
        out.append(f"<h3>{html.escape(host)}</h3>" + _table(rows))

    video = (p.get("artifacts") or {}).get("video")
    if video:
        out.append(_h2("取证过程录像", "Video of the capture session"))
        out.append(
            _table(
                [
                    _row("文件", "File", video.get("file")),
                    _row("WARC 记录", "WARC record", video.get("uri")),
                    _row("SHA-256", "SHA-256", video.get("sha256")),
                    _row("字节数", "Bytes", video.get("bytes")),
                    _row("编码", "Codec", video.get("codec")),
                    _row(
                        "画面",
                        "Frame size / rate",
                        f"{video.get('width')}×{video.get('height')}, {video.get('fps')} fps",
                    ),
                    _row("时长（秒）", "Duration (s)", video.get("duration_s")),
                    _row(
                        "首帧 / 末帧",
                        "First / last frame",
                        [video.get("first_frame_at"), video.get("last_frame_at")],
                    ),
                    _row("截断", "Truncated by", video.get("truncated") or None),
                    _row("时钟", "Clock overlay", video.get("clock")),
                    _row("编码器", "Encoder", video.get("encoder")),
                ]
            )
        )

    main = p.get("main_document", {})
    out.append(_h2("主文档响应头", "Main document response headers"))
    out.append(
        _table(
            [
                _row("状态行", "Status", f"{main.get('protocol')} {main.get('status')}"),
                _row("原始响应头", "Headers as received", main.get("headers_text")),
                _row("响应头", "Headers", main.get("headers")),
            ]
        )
    )

    auth = p.get("authentication", {})
    out.append(_h2("登录状态", "Authentication"))
    out.append(
        _table(
            [
                _row("使用 Cookie 登录", "Authenticated with cookies", auth.get("authenticated")),
                _row("Cookie 名称", "Cookie names", auth.get("cookie_names")),
                _row("Cookie 值", "Cookie values", auth.get("cookie_values")),
            ]
        )
    )

    out.append(_h2("限制与未加载资源", "Limits and resources not loaded"))
    out.append(
        _table(
            [
                _row("生效的限制", "Limits in force", p.get("limits")),
                _row("达到的限制", "Limits hit", p.get("limits_hit")),
                _row("未加载", "Not loaded", p.get("not_loaded")),
                _row(
                    "被拦截（内网地址）", "Blocked (internal addresses)", p.get("blocked_requests")
                ),
                _row("加载失败", "Failed requests", p.get("failed_requests")),
            ]
        )
    )

    out.append(_h2("文件", "Artifacts"))
    rows = []
    for role, a in p.get("artifacts", {}).items():
        rows.append(_row(role, a.get("uri", ""), a))
    out.append(_table(rows))

    if p.get("context"):
        out.append(_h2("案件信息", "Context"))
        out.append(_table([_row(str(k), "", v) for k, v in p["context"].items()]))

    res = p.get("resources", [])
    if res:
        out.append(_h2("资源列表", "Resources recorded"))
        rows = [
            f"<tr><td>{_e(r.get('method'))}</td><td>{_e(r.get('status'))}</td>"
            f"<td>{_e(r.get('url'))}</td><td>{_e(r.get('server_ip'))}</td>"
            f"<td>{_e(r.get('bytes'))}</td></tr>"
            for r in res
        ]
        out.append(
            "<table class=list><tr><th>方法</th><th>状态</th><th>网址 URL</th><th>IP</th>"
            "<th>字节 bytes</th></tr>" + "".join(rows) + "</table>"
        )
    sw = p.get("software", {})
    out.append(f"<p class=small>{_e(p.get('format'))} · {_e(sw)}</p>")
    out.append("</body></html>\n")
    return "\n".join(out)
