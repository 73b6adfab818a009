//! `/conversations` and membership, and `/unread`.

use chat::domain::Conversation;
use chat::protocol::rest::{AddMemberBody, ConversationPage, CreateConversationBody, ErrorBody, UnreadSummary};
use chat::service::conversations;
use chat::service::push::deliver;
use utoipa::openapi::schema::Object;
use utoipa::{IntoParams, ToSchema};

use super::openapi::{BadRequest, ConversationPath, Internal, NotFound, PayloadTooLarge, Unauthorized};
use super::request::{Ctx, Reply, empty, json};

#[utoipa::path(post, path = "/conversations", tag = "conversations", summary = "Create a conversation",
    description = "Direct: `{type:\"direct\", userId}`; the one conversation between the two users is returned again with 200, never duplicated. Group: `{type:\"group\", name, memberIds?}`, the caller is its owner. Room: `{type:\"room\", name}`, public.",
    request_body = CreateConversation,
    responses(
        (status = 200, description = "The existing direct conversation, with members.", body = Conversation),
        (status = 201, description = "Created, with members.", body = Conversation),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: an unknown user in userId or memberIds.", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
pub async fn create_conversation(ctx: Ctx<'_>) -> Reply {
    let user = ctx.caller()?;
    let opened = conversations::create(ctx.app, &user, ctx.body::<CreateConversationBody>()?).await?;
    json(if opened.created { 201 } else { 200 }, &opened.conversation)
}

/// The body of `POST /conversations`: what each `type` accepts.
// Parsed as the one flat `chat::protocol::rest::CreateConversationBody` and checked per type by
// the use case; this enum only says per type what passes.
#[derive(ToSchema)]
#[serde(untagged)]
#[schema(as = CreateConversationBody, discriminator(property_name = "type", mapping(
    ("direct" = "#/components/schemas/CreateDirectConversation"),
    ("group" = "#/components/schemas/CreateGroupConversation"),
    ("room" = "#/components/schemas/CreateRoomConversation"),
)))]
#[allow(dead_code)]
pub enum CreateConversation {
    Direct(CreateDirectConversation),
    Group(CreateGroupConversation),
    Room(CreateRoomConversation),
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CreateDirectConversation {
    #[serde(rename = "type")]
    #[schema(inline)]
    kind: Direct,
    /// The other user; not the caller (a ULID).
    #[schema(value_type = chat::openapi::Ulid)]
    user_id: String,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CreateGroupConversation {
    #[serde(rename = "type")]
    #[schema(inline)]
    kind: Group,
    /// Trimmed; printable.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// Initial members besides the caller (duplicates and the caller are ignored). Each must exist, else 404 and
    /// nothing is created.
    #[schema(max_items = 40, value_type = Vec<chat::openapi::Ulid>, required = false)]
    member_ids: Option<Vec<String>>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CreateRoomConversation {
    #[serde(rename = "type")]
    #[schema(inline)]
    kind: Room,
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    #[schema(schema_with = not_allowed, required = false)]
    member_ids: Option<()>,
}

/// A field that must be absent (`not: {}`, which utoipa's schema types cannot spell).
fn not_allowed() -> Object {
    let mut schema = Object::new();
    schema.description = Some("Not allowed: rooms are public and users join themselves (400).".into());
    schema.extensions.get_or_insert_default().insert("not".into(), serde_json::json!({}));
    schema
}

/// The `type` of each body: one value each.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum Direct {
    Direct,
}
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum Group {
    Group,
}
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum Room {
    Room,
}

/// The query of `GET /conversations`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ConversationListQuery {
    /// Page size, 1-100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<u32>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/conversations", tag = "conversations", summary = "List conversations",
    description = "The caller's conversations, most recent activity first, each with lastMessage and unreadCount.",
    params(ConversationListQuery),
    responses(
        (status = 200, description = "A page of conversations.", body = ConversationPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
pub async fn list_conversations(ctx: Ctx<'_>) -> Reply {
    let user = ctx.caller()?;
    let limit = ctx.limit()?;
    json(200, &conversations::list(ctx.app, &user, limit, ctx.query("cursor")).await?)
}

#[utoipa::path(get, path = "/conversations/{id}", tag = "conversations", summary = "A conversation",
    description = "The conversation with its members and their receipt pointers. Members only (rooms: anyone).",
    params(ConversationPath),
    responses(
        (status = 200, description = "The conversation with members.", body = Conversation),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
pub async fn get_conversation(ctx: Ctx<'_>) -> Reply {
    let [id] = ctx.params()?;
    let user = ctx.caller()?;
    json(200, &conversations::get(ctx.app, &user, id).await?)
}

#[utoipa::path(post, path = "/conversations/{id}/members", tag = "conversations", summary = "Add a member / join",
    description = "Group: a member adds `userId`. Room: the caller joins (body optional, or its own userId). Members get `member.joined` over WebSocket. Adding an existing member changes nothing.",
    params(ConversationPath),
    request_body(content = Option<AddMemberBody>, description = "May be empty for a room."),
    responses(
        (status = 200, description = "The conversation with members.", body = Conversation),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: adding someone else to a room, adding to a direct conversation, or the conversation is full.", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = Internal),
    ),
)]
pub async fn add_member(ctx: Ctx<'_>) -> Reply {
    let [id] = ctx.params()?;
    let user = ctx.caller()?;
    let body = ctx.body_or_empty::<AddMemberBody>()?.unwrap_or(AddMemberBody { user_id: None });
    let pushes = match body.user_id.as_deref() {
        Some(member) => conversations::add_member(ctx.app, &user, id, member).await?,
        None => conversations::join(ctx.app, &user, id).await?,
    };
    deliver(ctx.app, pushes).await.log("POST /conversations/{id}/members");
    json(200, &conversations::get(ctx.app, &user, id).await?)
}

/// The member in `DELETE /conversations/{id}/members/{userId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct MemberPath {
    /// The member to remove (the caller to leave).
    #[param(value_type = chat::openapi::Ulid)]
    user_id: String,
}

#[utoipa::path(delete, path = "/conversations/{id}/members/{userId}", tag = "conversations",
    summary = "Leave / remove a member",
    description = "The caller leaves (userId = caller), or the group owner removes another member. Members get `member.left`.",
    params(ConversationPath, MemberPath),
    responses(
        (status = 204, description = "Done; no body."),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: removing others without being the owner, or leaving a direct conversation.", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
)]
pub async fn remove_member(ctx: Ctx<'_>) -> Reply {
    let [id, member] = ctx.params()?;
    let user = ctx.caller()?;
    let pushes = conversations::remove_member(ctx.app, &user, id, member).await?;
    deliver(ctx.app, pushes).await.log("DELETE /conversations/{id}/members/{userId}");
    empty(204)
}

#[utoipa::path(get, path = "/unread", tag = "conversations", summary = "Unread counts",
    description = "Unread messages per conversation (messages from others after the caller's read pointer) and their total.",
    responses(
        (status = 200, description = "Unread counts.", body = UnreadSummary),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
pub async fn unread(ctx: Ctx<'_>) -> Reply {
    let user = ctx.caller()?;
    json(200, &conversations::unread(ctx.app, &user).await?)
}
