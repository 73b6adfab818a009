//! The configuration back as the environment variables it was read from, so a process started
//! with them (a function binary run by the local gateway) reads the same configuration.

use super::Config;

impl Config {
    /// Every setting as `(variable, value)`; unset optional ones are left out, so
    /// `Config::from_lookup` over the result gives this configuration back.
    pub fn to_variables(&self) -> Vec<(&'static str, String)> {
        let s = &self.scheduling;
        let mut out = vec![
            ("CHAT_TABLE", self.table.clone()),
            ("CHAT_JWT_ISSUER", self.tokens.jwt_issuer.clone()),
            ("CHAT_ACCESS_TOKEN_TTL_SECS", self.tokens.access_token_ttl_secs.to_string()),
            ("CHAT_REFRESH_TOKEN_TTL_SECS", self.refresh_token_ttl_secs.to_string()),
            ("CHAT_MAX_CONTENT_CHARS", self.max_content_chars.to_string()),
            ("CHAT_MAX_FRAME_BYTES", self.max_frame_bytes.to_string()),
            ("CHAT_IDEMPOTENCY_TTL_SECS", self.idempotency_ttl_secs.to_string()),
            ("CHAT_CONNECTION_TTL_SECS", self.connection_ttl_secs.to_string()),
            ("CHAT_WS_RATE_PER_MIN", self.ws_rate_limit.to_string()),
            ("CHAT_WS_RATE_WINDOW_SECS", self.ws_rate_window_secs.to_string()),
            ("CHAT_AUTH_RATE_PER_IP_PER_MIN", self.auth_rate_per_ip.to_string()),
            ("CHAT_AUTH_RATE_WINDOW_SECS", self.auth_rate_window_secs.to_string()),
            ("CHAT_LOGIN_RATE_PER_ACCOUNT_PER_15MIN", self.login_rate_per_account.to_string()),
            ("CHAT_LOGIN_RATE_WINDOW_SECS", self.login_rate_window_secs.to_string()),
            ("CHAT_PRESENCE_MAX_CONVERSATIONS", self.presence_max_conversations.to_string()),
            ("CHAT_PRESENCE_MAX_ROOM_MEMBERS", self.presence_max_room_members.to_string()),
            ("CHAT_PRESENCE_MAX_CONTACTS", self.presence_max_contacts.to_string()),
            ("CHAT_SCHEDULE_MIN_LEAD_SECS", s.min_lead_secs.to_string()),
            ("CHAT_SCHEDULE_MAX_LEAD_SECS", s.max_lead_secs.to_string()),
            ("CHAT_SCHEDULE_LOOKAHEAD_SECS", s.lookahead_secs.to_string()),
            ("CHAT_SCHEDULE_LEASE_SECS", s.lease_secs.to_string()),
            ("CHAT_SCHEDULE_SENT_TTL_SECS", s.sent_ttl_secs.to_string()),
            // One text a line: a text may contain neither `|` nor a newline (parse_texts).
            ("CHAT_AUTO_MESSAGES", s.auto_messages.join("\n")),
            ("CHAT_PLANNER_ENABLED", s.planner_enabled.to_string()),
            ("CHAT_AUTO_WINDOW_SECS", s.auto_window_secs.to_string()),
            ("CHAT_ACTIVE_DAYS", s.active_days.to_string()),
            ("CHAT_UPLOAD_URL_TTL_SECS", self.upload_url_ttl_secs.to_string()),
            ("CHAT_DOWNLOAD_URL_TTL_SECS", self.download_url_ttl_secs.to_string()),
            ("CHAT_ICE_SERVERS", self.ice_servers.to_string()),
            ("CHAT_MATCH_WAIT_SECS", self.match_wait_secs.to_string()),
        ];
        let optional = [
            ("CHAT_JWT_KEYS_PARAMETER", &self.tokens.jwt_keys_parameter),
            ("CHAT_MANAGEMENT_ENDPOINT", &self.management_endpoint),
            ("CHAT_SCHEDULE_QUEUE_URL", &s.queue_url),
            ("CHAT_TEST_FAIL_SCHEDULED", &s.test_fail_marker),
            ("CHAT_EVENT_BUS", &self.events.bus),
            ("CHAT_APNS_PLATFORM_APPLICATION_ARN", &self.events.apns_application),
            ("CHAT_FCM_PLATFORM_APPLICATION_ARN", &self.events.fcm_application),
            ("CHAT_ATTACHMENTS_BUCKET", &self.attachments_bucket),
        ];
        out.extend(optional.into_iter().filter_map(|(k, v)| v.clone().map(|v| (k, v))));
        if !self.tokens.jwt_secret.is_empty() {
            out.push(("CHAT_JWT_SECRET", self.tokens.jwt_secret.clone()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(config: &Config) -> Config {
        let variables = config.to_variables();
        Config::from_lookup(|k| variables.iter().find(|(name, _)| *name == k).map(|(_, v)| v.clone())).unwrap()
    }

    #[test]
    fn variables_read_back_as_the_same_configuration() {
        let config = Config::from_lookup(|k| {
            Some(
                match k {
                    "CHAT_TABLE" => "t",
                    "CHAT_JWT_SECRET" => "0123456789abcdef0123456789abcdef",
                    "CHAT_WS_RATE_PER_MIN" => "7",
                    "CHAT_SCHEDULE_QUEUE_URL" => "http://q",
                    "CHAT_AUTO_MESSAGES" => "one|two",
                    "CHAT_PLANNER_ENABLED" => "false",
                    "CHAT_ICE_SERVERS" => r#"[{"urls":"stun:x"}]"#,
                    "CHAT_EVENT_BUS" => "bus",
                    "CHAT_ATTACHMENTS_BUCKET" => "b",
                    "CHAT_TEST_FAIL_SCHEDULED" => "boom@1",
                    _ => return None,
                }
                .to_string(),
            )
        })
        .unwrap();
        assert_eq!(format!("{:?}", round_trip(&config)), format!("{config:?}"));
        let defaults = Config::from_lookup(|k| (k == "CHAT_TABLE").then(|| "t".to_string())).unwrap();
        assert_eq!(format!("{:?}", round_trip(&defaults)), format!("{defaults:?}"));
    }
}
