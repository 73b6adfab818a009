//! Receipts as pointers: each member's delivered and read positions in a conversation, one
//! write per receipt however many messages it covers.

use async_trait::async_trait;

use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pointer {
    Delivered,
    Read,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PointerMove {
    /// Moved forward from `previous`.
    Moved {
        previous: Option<String>,
    },
    /// Already at or past the id: pointers never move back.
    NotForward {
        current: Option<String>,
    },
    NotMember,
}

#[async_trait]
pub trait ReceiptStore: Send + Sync {
    /// Moves a member's pointer forward to `message_id` (never back).
    async fn move_pointer(
        &self,
        conversation_id: &str,
        user_id: &str,
        pointer: Pointer,
        message_id: &str,
        at: &str,
    ) -> Result<PointerMove>;
}
