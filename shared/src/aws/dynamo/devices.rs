//! `DeviceStore`: one item per device (`USER#{id}` / `DEVICE#{deviceId}`), beside the user's
//! profile, so listing is one Query. The push function adds the SNS endpoint it made for the
//! token (`endpointArn`, `endpointToken`) to the same item.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::{Deserialize, Serialize};

use super::DynamoStore;
use super::common::{conditional, from_item, s, sdk_error};
use crate::aws::keys;
use crate::domain::device::{Device, Platform};
use crate::error::{ChatError, Result};
use crate::ports::{DeviceStore, Seen};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeviceItem {
    pub device_id: String,
    pub platform: Platform,
    #[serde(default)]
    pub push_token: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub last_ip: Option<String>,
    #[serde(default)]
    pub last_seen_at: Option<String>,
    pub created_at: String,
    /// The SNS platform endpoint made for `endpoint_token` (push function).
    #[serde(default)]
    pub endpoint_arn: Option<String>,
    #[serde(default)]
    pub endpoint_token: Option<String>,
}

impl DeviceItem {
    pub(crate) fn into_device(self) -> Device {
        Device {
            device_id: self.device_id,
            platform: self.platform,
            push_token: self.push_token,
            name: self.name,
            user_agent: self.user_agent,
            last_ip: self.last_ip,
            last_seen_at: self.last_seen_at,
            created_at: self.created_at,
        }
    }
}

/// An update expression of `SET`s and `REMOVE`s, every attribute behind a `#name` (`name` is
/// one of DynamoDB's reserved words).
#[derive(Default)]
struct Update {
    set: Vec<String>,
    remove: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Update {
    fn field(&mut self, name: &str, value: Option<&str>) {
        self.names.insert(format!("#{name}"), name.to_string());
        match value {
            Some(v) => {
                self.set.push(format!("#{name} = :{name}"));
                self.values.insert(format!(":{name}"), s(v));
            }
            None => self.remove.push(format!("#{name}")),
        }
    }

    fn if_absent(&mut self, name: &str, value: &str) {
        self.names.insert(format!("#{name}"), name.to_string());
        self.set.push(format!("#{name} = if_not_exists(#{name}, :{name})"));
        self.values.insert(format!(":{name}"), s(value));
    }

    fn expression(&self) -> String {
        let mut out = format!("SET {}", self.set.join(", "));
        if !self.remove.is_empty() {
            out.push_str(&format!(" REMOVE {}", self.remove.join(", ")));
        }
        out
    }
}

#[async_trait]
impl DeviceStore for DynamoStore {
    async fn put_device(&self, user_id: &str, device: &Device) -> Result<bool> {
        let mut update = Update::default();
        update.field("deviceId", Some(&device.device_id));
        let platform = serde_json::to_value(device.platform).map_err(ChatError::internal)?;
        update.field("platform", platform.as_str());
        update.if_absent("createdAt", &device.created_at);
        update.field("pushToken", device.push_token.as_deref());
        update.field("name", device.name.as_deref());
        // What was seen of the device before stays unless this registration tells something new.
        for (name, value) in [
            ("userAgent", device.user_agent.as_deref()),
            ("lastIp", device.last_ip.as_deref()),
            ("lastSeenAt", device.last_seen_at.as_deref()),
        ] {
            if value.is_some() {
                update.field(name, value);
            }
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::user(user_id)))
            .key(keys::SK, s(keys::device(&device.device_id)))
            .update_expression(update.expression())
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk_error)?;
        // `createdAt` is among the old values exactly when the device existed.
        Ok(!out.attributes.unwrap_or_default().contains_key("createdAt"))
    }

    async fn list_devices(&self, user_id: &str) -> Result<Vec<Device>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :device)")
            .expression_attribute_values(":pk", s(keys::user(user_id)))
            .expression_attribute_values(":device", s(keys::DEVICE_PREFIX))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.items.unwrap_or_default().into_iter().map(|item| Ok(from_item::<DeviceItem>(item)?.into_device())).collect()
    }

    async fn delete_device(&self, user_id: &str, device_id: &str) -> Result<bool> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::user(user_id)))
            .key(keys::SK, s(keys::device(device_id)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        Ok(conditional(request)?.applied().is_some())
    }

    async fn touch_device(&self, user_id: &str, device_id: &str, seen: &Seen) -> Result<bool> {
        let mut update = Update::default();
        update.field("lastSeenAt", Some(&seen.at));
        if seen.ip.is_some() {
            update.field("lastIp", seen.ip.as_deref());
        }
        if seen.user_agent.is_some() {
            update.field("userAgent", seen.user_agent.as_deref());
        }
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::user(user_id)))
            .key(keys::SK, s(keys::device(device_id)))
            .update_expression(update.expression())
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .send()
            .await;
        Ok(conditional(request)?.applied().is_some())
    }
}
