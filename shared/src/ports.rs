//! The traits the use cases need, one per aggregate or capability, each next to the outcomes it
//! returns. The AWS adapters in `aws/` implement them; nothing here knows about DynamoDB or API
//! Gateway. `Store` and `Directory` bundle the per-aggregate traits for `App`, so a use case
//! calls `app.store.store_message(...)` without naming the trait that declares it.

mod attachments;
mod connections;
mod conversations;
mod devices;
mod events;
mod matching;
mod members;
mod messages;
mod notifications;
mod presence;
mod profiles;
mod pusher;
mod rate_limit;
mod receipts;
mod refresh_tokens;
mod schedule;
mod stats;
mod users;

pub use attachments::{
    AttachmentClaim, AttachmentRecord, AttachmentState, AttachmentStore, ClaimRequest, ObjectStore, Presigned,
};
pub use connections::ConnectionStore;
pub use conversations::{ConversationStore, CreateConversation, CreateDirect};
pub use devices::{DeviceStore, PushTarget, Seen};
pub use events::EventPublisher;
pub use matching::{CallStore, MatchStore, Pairing};
pub use members::{AddMember, AddRule, MemberStore, RemoveMember};
pub use messages::{Audience, ChangedMessage, Claim, HistoryPage, MessageChange, MessageStore, StoredMessage};
pub use notifications::{NotificationSettings, Published, PushHandOff, PushNotifier, Recipient};
pub use presence::{ConnectionInfo, PresenceDirectory};
pub use profiles::ProfileDirectory;
pub use pusher::{PushOutcome, Pusher};
pub use rate_limit::{RateDecision, RateLimiter};
pub use receipts::{Pointer, PointerMove, ReceiptStore};
pub use refresh_tokens::{RefreshTokenRecord, RefreshTokenStore, Rotation};
pub use schedule::{Cancel, Claimed, DueEntry, Queue, QueueEntry, ScheduleStore};
pub use stats::{ConnectionStats, StatsCounters};
pub use users::{Taken, UserRecord, UserStore};

/// Everything the use cases read and write durably, bundled for `App.store`.
pub trait Store:
    UserStore
    + RefreshTokenStore
    + ConnectionStore
    + ConversationStore
    + MemberStore
    + MessageStore
    + ReceiptStore
    + AttachmentStore
    + MatchStore
    + CallStore
    + DeviceStore
    + NotificationSettings
{
}

impl<T> Store for T where
    T: UserStore
        + RefreshTokenStore
        + ConnectionStore
        + ConversationStore
        + MemberStore
        + MessageStore
        + ReceiptStore
        + AttachmentStore
        + MatchStore
        + CallStore
        + DeviceStore
        + NotificationSettings
        + ?Sized
{
}

/// User search, presence reads and `/stats` counters, bundled for `App.directory`.
pub trait Directory: ProfileDirectory + PresenceDirectory + StatsCounters {}

impl<T> Directory for T where T: ProfileDirectory + PresenceDirectory + StatsCounters + ?Sized {}
