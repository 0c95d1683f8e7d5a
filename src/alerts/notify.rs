//! Notifiers: where an alert is sent. Each turns an [`Alert`] into one request (or one mail) and says what
//! the other side answered; the outbox ([`super::outbox`]) retries what failed.

use super::config::{
    DingtalkConfig, EmailConfig, NotifierConfig, SlackConfig, SmtpTls, WebhookConfig,
};
use super::engine::Alert;
use base64::Engine as _;
use serde_json::{Value, json};
use std::time::Duration;

/// Why a notification was not sent.
#[derive(Debug)]
pub struct SendError {
    /// What happened, for logs and `logward alert test`.
    pub message: String,
    /// Whether a later attempt can succeed (false: the request itself is refused, e.g. a bad token).
    pub retry: bool,
    /// The wait the other side asked for, when it did.
    pub retry_after: Option<Duration>,
}

impl SendError {
    fn retry(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            retry: true,
            retry_after: None,
        }
    }
    fn fatal(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            retry: false,
            retry_after: None,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A built notifier.
pub struct Notifier {
    /// Its name under `alerts.notifiers`.
    pub name: String,
    kind: Kind,
}

enum Kind {
    Email(Box<EmailConfig>),
    Dingtalk(DingtalkConfig, reqwest::Client),
    Slack(SlackConfig, reqwest::Client),
    Webhook(WebhookConfig, reqwest::Client),
}

fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    // reqwest is built without a default TLS provider: install ring, as the Elasticsearch output does.
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    Ok(reqwest::Client::builder()
        .user_agent(concat!("logward/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .build()?)
}

impl Notifier {
    /// Builds the notifier `name`.
    pub fn new(name: &str, cfg: &NotifierConfig) -> anyhow::Result<Notifier> {
        let kind = match cfg {
            NotifierConfig::Email(e) => Kind::Email(Box::new(e.clone())),
            NotifierConfig::Dingtalk(d) => Kind::Dingtalk(d.clone(), http_client(d.timeout.get())?),
            NotifierConfig::Slack(s) => Kind::Slack(s.clone(), http_client(s.timeout.get())?),
            NotifierConfig::Webhook(w) => Kind::Webhook(w.clone(), http_client(w.timeout.get())?),
        };
        Ok(Notifier {
            name: name.to_string(),
            kind,
        })
    }

    /// The notifier's type name.
    pub fn kind(&self) -> &'static str {
        match self.kind {
            Kind::Email(_) => "email",
            Kind::Dingtalk(..) => "dingtalk",
            Kind::Slack(..) => "slack",
            Kind::Webhook(..) => "webhook",
        }
    }

    /// Sends one alert; the answer says what the other side replied.
    pub async fn send(&self, alert: &Alert) -> Result<String, SendError> {
        match &self.kind {
            Kind::Email(cfg) => {
                let cfg = cfg.clone();
                let alert = alert.clone();
                tokio::task::spawn_blocking(move || send_email(&cfg, &alert))
                    .await
                    .map_err(|e| SendError::retry(format!("the mail task failed: {e}")))?
            }
            Kind::Dingtalk(cfg, client) => send_dingtalk(cfg, client, alert).await,
            Kind::Slack(cfg, client) => {
                let body =
                    json!({ "text": format!("*{}*\n{}", alert.summary(), samples_text(alert)) });
                let resp = client
                    .post(&cfg.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                    .map_err(|e| {
                        SendError::retry(format!("Slack did not answer: {}", e.without_url()))
                    })?;
                http_answer("Slack", resp).await
            }
            Kind::Webhook(cfg, client) => {
                let body = match &cfg.body {
                    Some(t) => render(t, alert),
                    None => alert.to_json().to_string(),
                };
                let method =
                    reqwest::Method::from_bytes(cfg.method.to_ascii_uppercase().as_bytes())
                        .unwrap_or(reqwest::Method::POST);
                let mut req = client
                    .request(method, &cfg.url)
                    .header(reqwest::header::CONTENT_TYPE, &cfg.content_type)
                    .body(body);
                for (k, v) in &cfg.headers {
                    req = req.header(k.as_str(), v.as_str());
                }
                let resp = req.send().await.map_err(|e| {
                    SendError::retry(format!(
                        "{} did not answer: {}",
                        redact_url(&cfg.url),
                        e.without_url()
                    ))
                })?;
                http_answer(&redact_url(&cfg.url), resp).await
            }
        }
    }
}

/// A webhook address for messages: scheme, host and path, without a query (which often holds a token).
fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "the webhook".into(),
    }
}

/// Reads an HTTP answer: 2xx is sent; 429 and 5xx are retried (with `Retry-After` when given); other
/// statuses are refusals that no retry can fix.
async fn http_answer(who: &str, resp: reqwest::Response) -> Result<String, SendError> {
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = resp.text().await.unwrap_or_default();
    let text: String = text.chars().take(300).collect();
    if status.is_success() {
        return Ok(format!("{status} {text}"));
    }
    let message = format!("{who} answered {status}: {text}");
    if status.as_u16() == 429 || status.is_server_error() {
        Err(SendError {
            message,
            retry: true,
            retry_after,
        })
    } else {
        Err(SendError::fatal(message))
    }
}

fn samples_text(alert: &Alert) -> String {
    alert
        .samples
        .iter()
        .map(|s| match s.get("message").and_then(Value::as_str) {
            Some(m) => format!("> {m}"),
            None => format!("> {s}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The signed webhook address DingTalk documents: `timestamp` (ms) and `sign` =
/// URL-encoded base64 of HMAC-SHA256 over `timestamp + "\n" + secret`, keyed with the secret.
pub fn dingtalk_signed_url(url: &str, secret: &str, timestamp_ms: u64) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, format!("{timestamp_ms}\n{secret}").as_bytes());
    let sign = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
    let sign = percent_encoding::utf8_percent_encode(&sign, percent_encoding::NON_ALPHANUMERIC);
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}timestamp={timestamp_ms}&sign={sign}")
}

/// DingTalk's error code for "too many messages" (a robot may send 20 a minute).
pub const DINGTALK_RATE_LIMITED: i64 = 130_101;

async fn send_dingtalk(
    cfg: &DingtalkConfig,
    client: &reqwest::Client,
    alert: &Alert,
) -> Result<String, SendError> {
    let mut text = format!("### {}\n\n", alert.summary());
    if !alert.samples.is_empty() {
        text.push_str(&samples_text(alert));
        text.push_str("\n\n");
    }
    // DingTalk mentions only the numbers that also appear in the text.
    for m in &cfg.at_mobiles {
        text.push_str(&format!("@{m} "));
    }
    let body = json!({
        "msgtype": "markdown",
        "markdown": { "title": alert.summary(), "text": text },
        "at": { "atMobiles": cfg.at_mobiles, "isAtAll": cfg.at_all },
    });
    // One quick retry on DingTalk's rate limit, then the outbox's backoff.
    for attempt in 0..2 {
        let url = match &cfg.secret {
            Some(secret) => dingtalk_signed_url(&cfg.url, secret, super::engine::now_ms()),
            None => cfg.url.clone(),
        };
        let resp = client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| {
                SendError::retry(format!("DingTalk did not answer: {}", e.without_url()))
            })?;
        let status = resp.status();
        if !status.is_success() {
            return http_answer("DingTalk", resp).await;
        }
        let text = resp.text().await.unwrap_or_default();
        let answer: Value = serde_json::from_str(&text).map_err(|e| {
            SendError::retry(format!(
                "DingTalk answered {status} with a body that is not JSON: {e}"
            ))
        })?;
        let code = answer.get("errcode").and_then(Value::as_i64).unwrap_or(-1);
        let msg = answer.get("errmsg").and_then(Value::as_str).unwrap_or("");
        match code {
            0 => return Ok(format!("errcode 0 {msg}")),
            DINGTALK_RATE_LIMITED if attempt == 0 => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            DINGTALK_RATE_LIMITED => {
                return Err(SendError {
                    message: format!("DingTalk is rate limiting the robot (errcode {code}: {msg})"),
                    retry: true,
                    retry_after: Some(Duration::from_secs(60)),
                });
            }
            // -1: the system is busy.
            -1 => {
                return Err(SendError::retry(format!(
                    "DingTalk is busy (errcode {code}: {msg})"
                )));
            }
            _ => {
                return Err(SendError::fatal(format!(
                    "DingTalk refused the message (errcode {code}: {msg}): check the robot's url, access_token, secret and keyword settings"
                )));
            }
        }
    }
    Err(SendError::retry("DingTalk is rate limiting the robot"))
}

fn send_email(cfg: &EmailConfig, alert: &Alert) -> Result<String, SendError> {
    use lettre::Transport as _;
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let bad = |what: &str, e: &dyn std::fmt::Display| SendError::fatal(format!("{what}: {e}"));
    let mut msg = lettre::Message::builder()
        .from(cfg.from.parse().map_err(|e| bad("from", &e))?)
        .subject(alert.summary());
    for to in &cfg.to {
        msg = msg.to(to.parse().map_err(|e| bad("to", &e))?);
    }
    let body = format!(
        "{}\n\nrule: {}\ntype: {}\ngroup: {}\ncount: {}\nwindow: {}\npriority: {}\nfired at: {}\n\nsample events:\n{}\n",
        alert.summary(),
        alert.rule,
        alert.kind.name(),
        if alert.group.is_empty() {
            "-"
        } else {
            &alert.group
        },
        alert.count,
        alert.to_json()["window"].as_str().unwrap_or(""),
        alert.priority.name(),
        alert.to_json()["fired_at"].as_str().unwrap_or(""),
        alert
            .samples
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let msg = msg
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| bad("the message", &e))?;
    let tls = |host: &str| -> Result<TlsParameters, SendError> {
        let mut b = TlsParameters::builder(host.to_string());
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                SendError::fatal(format!("cannot read ca_file {}: {e}", ca.display()))
            })?;
            b = b.add_root_certificate(Certificate::from_pem(&pem).map_err(|e| {
                SendError::fatal(format!(
                    "ca_file {} holds no PEM certificate: {e}",
                    ca.display()
                ))
            })?);
        }
        b.build_rustls()
            .map_err(|e| SendError::fatal(format!("TLS settings: {e}")))
    };
    let (port, tls) = match cfg.tls {
        SmtpTls::None => (25, Tls::None),
        SmtpTls::Starttls => (587, Tls::Required(tls(&cfg.host)?)),
        SmtpTls::Tls => (465, Tls::Wrapper(tls(&cfg.host)?)),
    };
    let mut t = lettre::SmtpTransport::builder_dangerous(cfg.host.as_str())
        .port(cfg.port.unwrap_or(port))
        .tls(tls)
        .timeout(Some(cfg.timeout.get()));
    if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
        t = t.credentials(lettre::transport::smtp::authentication::Credentials::new(
            u.clone(),
            p.clone(),
        ));
    }
    let server = format!("{}:{}", cfg.host, cfg.port.unwrap_or(port));
    match t.build().send(&msg) {
        Ok(resp) => Ok(format!(
            "{} {}",
            resp.code(),
            resp.message().collect::<Vec<_>>().join(" ")
        )),
        Err(e) if e.is_permanent() => Err(SendError::fatal(format!(
            "the SMTP server {server} refused the mail: {e}"
        ))),
        Err(e) => Err(SendError::retry(format!(
            "the mail could not be delivered to {server}: {e}"
        ))),
    }
}

/// The `{{name}}` placeholders in a template.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                out.push(after[..end].trim().to_string());
                rest = &after[end + 2..];
            }
            None => break,
        }
    }
    out
}

/// Fills a webhook body template. Written by hand: ten fixed placeholders need no template engine.
/// Text values are inserted JSON-escaped without quotes, so a JSON template stays valid whatever the
/// alert holds; `{{samples}}` and `{{alert}}` are JSON.
pub fn render(template: &str, alert: &Alert) -> String {
    let a = alert.to_json();
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        let value = match name {
            "alert" => a.to_string(),
            "samples" => a["samples"].to_string(),
            other => match a.get(other) {
                Some(Value::String(s)) => {
                    let quoted = Value::String(s.clone()).to_string();
                    quoted[1..quoted.len() - 1].to_string()
                }
                Some(v) => v.to_string(),
                None => String::new(),
            },
        };
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dingtalk_signature_follows_the_documented_recipe() {
        // timestamp + "\n" + secret, HMAC-SHA256 keyed with the secret, base64, URL-encoded.
        let url = dingtalk_signed_url(
            "https://oapi.example/robot/send?access_token=t",
            "SECabc",
            1_700_000_000_000,
        );
        let sign = url.split("sign=").nth(1).unwrap_or_default();
        let decoded = percent_encoding::percent_decode_str(sign)
            .decode_utf8()
            .unwrap_or_default();
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"SECabc");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(decoded.as_bytes())
            .unwrap_or_default();
        assert!(
            ring::hmac::verify(&key, b"1700000000000\nSECabc", &raw).is_ok(),
            "{url}"
        );
        assert!(url.contains("&timestamp=1700000000000&sign="), "{url}");
        assert!(
            !sign.contains('+') && !sign.contains('/') && !sign.contains('='),
            "{sign}"
        );
    }

    #[test]
    fn templates_fill_placeholders_and_stay_json() {
        let alert = Alert {
            rule: "r\"1".into(),
            kind: super::super::config::RuleKind::Frequency,
            group: "service.name=a".into(),
            count: 11,
            threshold: 10,
            window_secs: 300.0,
            priority: super::super::config::Priority::P1,
            fired_at_ms: 0,
            notify: vec![],
            samples: vec![json!({"message": "boom"})],
            detail: String::new(),
        };
        let body = render(
            r#"{"rule": "{{rule}}", "n": {{count}}, "s": {{samples}}, "w": "{{ window }}"}"#,
            &alert,
        );
        let v: Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(v["rule"], "r\"1", "{body}");
        assert_eq!(v["n"], 11);
        assert_eq!(v["s"][0]["message"], "boom");
        assert_eq!(v["w"], "5m");
        assert_eq!(placeholders("a {{x}} b {{ y }}"), vec!["x", "y"]);
    }
}
