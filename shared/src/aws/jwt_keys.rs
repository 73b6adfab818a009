//! The JWT signing keys, a SecureString in SSM Parameter Store (`CHAT_JWT_KEYS_PARAMETER`),
//! read once at init (docs/protocol.md, "Signing keys and their rotation"). One GetParameter
//! per cold start; never logged.

use crate::auth::KeyRing;
use crate::error::{ChatError, Result};

pub async fn load(sdk: &aws_config::SdkConfig, name: &str) -> Result<KeyRing> {
    let client = aws_sdk_ssm::Client::new(sdk);
    let answer = client.get_parameter().name(name).with_decryption(true).send().await.map_err(|e| {
        ChatError::internal(format!(
            "cannot read the JWT keys parameter {name}: {}",
            aws_sdk_ssm::error::DisplayErrorContext(e)
        ))
    })?;
    let text = answer.parameter().and_then(|p| p.value()).unwrap_or_default();
    KeyRing::parse(text).map_err(|e| ChatError::internal(format!("the JWT keys parameter {name}: {}", e.message)))
}

/// Creates (or overwrites) the parameter: the local gateway's bootstrap, against the emulator.
pub async fn put(sdk: &aws_config::SdkConfig, name: &str, text: &str) -> Result<()> {
    aws_sdk_ssm::Client::new(sdk)
        .put_parameter()
        .name(name)
        .value(text)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .map_err(|e| ChatError::internal(aws_sdk_ssm::error::DisplayErrorContext(e).to_string()))?;
    Ok(())
}
