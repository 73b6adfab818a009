// Types of chat-client.js. Wire shapes follow docs/asyncapi.yaml and docs/openapi.json;
// web/tests/check-asyncapi.mjs checks that ServerEventMap names every server event there.

export declare const VERSION: string;
export declare const ACTIONS: readonly ClientAction[];
export declare const SERVER_EVENTS: readonly ServerEventType[];
export declare const DEFAULT_TOKEN_TRANSPORT: TokenTransport;

export type TokenTransport = 'query' | 'subprotocol';
export type ClientAction =
  | 'send' | 'delivered' | 'read' | 'typing' | 'sync' | 'ping' | 'join' | 'leave' | 'call' | 'match' | 'match.cancel';
export type ErrorCode =
  | 'invalid_input' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'rate_limited' | 'payload_too_large' | 'internal';
export type MessageKind = 'text' | 'file' | 'voice' | 'auto' | 'system';
export type MessageStatus = 'sent' | 'delivered' | 'read';
export type ConversationType = 'direct' | 'group' | 'room';
export type CallSignal = 'offer' | 'answer' | 'ice' | 'end';

// ---------------------------------------------------------------- objects

export interface User {
  id: string;
  username: string;
  displayName: string;
  createdAt: string;
  lastSeen?: string;
  online: boolean;
  /** Only in the caller's own user. */
  email?: string;
}

export interface Attachment {
  id: string;
  kind: 'file' | 'voice';
  fileName: string;
  contentType: string;
  size: number;
  durationSec?: number;
  url?: string;
  urlExpiresAt?: string;
}

export interface Message {
  id: string;
  conversationId: string;
  senderId: string;
  kind: MessageKind;
  /** null once deleted. */
  content: string | null;
  attachment?: Attachment;
  clientMsgId?: string;
  createdAt: string;
  editedAt?: string;
  deleted: boolean;
  /** On the caller's own messages. */
  status?: MessageStatus;
}

export interface Member {
  userId: string;
  role: 'owner' | 'member';
  joinedAt: string;
  lastDeliveredId: string | null;
  lastReadId: string | null;
  lastDeliveredAt?: string;
  lastReadAt?: string;
}

export interface Conversation {
  id: string;
  type: ConversationType;
  name?: string;
  createdAt: string;
  createdBy: string;
  memberCount: number;
  lastMessage?: Message;
  lastActivityAt: string;
  members?: Member[];
  unreadCount?: number;
  /** The caller's push setting (`GET /conversations` only; `setMuted` changes it). */
  muted?: boolean;
}

export interface Receipt {
  conversationId: string;
  userId: string;
  messageId: string;
  status: 'delivered' | 'read';
  at: string;
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  user: User;
}

/** A message in the outbox: not yet acknowledged (`pending`) or refused (`failed`). */
export interface PendingMessage {
  clientMsgId: string;
  conversationId?: string;
  to?: string;
  content?: string;
  attachmentId?: string;
  createdAt: string;
  senderId: string;
  status: 'pending' | 'failed';
  error?: { code: string; message: string };
}

export interface Capabilities {
  uploads: boolean;
  attachments: boolean;
  devices: boolean;
  mute: boolean;
  call: boolean;
  match: boolean;
  matchRest?: boolean;
}

// ---------------------------------------------------------------- server events (asyncapi subscribe)

interface WithRequestId {
  requestId?: string;
}
export interface MessageSentEvent extends WithRequestId {
  type: 'message.sent';
  clientMsgId: string;
  message: Message;
}
export interface MessageNewEvent {
  type: 'message.new';
  message: Message;
}
export interface MessageUpdatedEvent {
  type: 'message.updated';
  message: Message;
}
export interface MessageDeletedEvent {
  type: 'message.deleted';
  message: Message;
}
export interface ReceiptEvent extends WithRequestId, Receipt {
  type: 'receipt';
}
export interface TypingEvent {
  type: 'typing';
  conversationId: string;
  userId: string;
  state: 'start' | 'stop';
  expiresIn?: number;
}
export interface PresenceEvent {
  type: 'presence';
  userId: string;
  online: boolean;
  lastSeen: string;
}
export interface SyncEvent extends WithRequestId {
  type: 'sync';
  messages: Message[];
  receipts: Receipt[];
  hasMore: boolean;
  cursor: string | null;
}
export interface PongEvent extends WithRequestId {
  type: 'pong';
}
export interface MemberJoinedEvent extends WithRequestId {
  type: 'member.joined';
  conversationId: string;
  userId: string;
  by: string;
}
export interface MemberLeftEvent extends WithRequestId {
  type: 'member.left';
  conversationId: string;
  userId: string;
  by: string;
}
export interface CallEvent {
  type: 'call';
  from: string;
  callId: string;
  signal: CallSignal;
  data?: unknown;
}
export interface MatchWaitingEvent extends WithRequestId {
  type: 'match.waiting';
}
export interface MatchFoundEvent {
  type: 'match.found';
  conversationId: string;
  user: User;
}
export interface ErrorEvent extends WithRequestId {
  type: 'error';
  code: ErrorCode;
  message: string;
  retryAfter?: number;
}

/** Every server event of docs/asyncapi.yaml, by `type`. */
export interface ServerEventMap {
  'message.sent': MessageSentEvent;
  'message.new': MessageNewEvent;
  'message.updated': MessageUpdatedEvent;
  'message.deleted': MessageDeletedEvent;
  'receipt': ReceiptEvent;
  'typing': TypingEvent;
  'presence': PresenceEvent;
  'sync': SyncEvent;
  'pong': PongEvent;
  'member.joined': MemberJoinedEvent;
  'member.left': MemberLeftEvent;
  'call': CallEvent;
  'match.waiting': MatchWaitingEvent;
  'match.found': MatchFoundEvent;
  'error': ErrorEvent;
}
export type ServerEventType = keyof ServerEventMap;
export type ServerEvent = ServerEventMap[ServerEventType];

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'waiting' | 'offline' | 'closed';

/** Events the client derives (its store, its connection), beside the raw server events. */
export interface ClientEventMap {
  /** The socket's state; `waiting` carries the backoff delay before the next attempt. */
  'state': { state: ConnectionState; delay?: number; attempt?: number; code?: number; reason?: string };
  /** Signed in, refreshed, signed out (session null) or expired. */
  'session': { session: Session | null; reason?: string };
  /** A message entered the store for the first time (deduped by id). */
  'message': { message: Message; source: 'live' | 'sync' | 'sent' | 'history' | 'list' | 'edit' | 'delete' };
  /** A stored message changed: edited, deleted, or its status moved. */
  'update': { message: Message; source: string };
  /** The outbox changed; `sent` when one was acknowledged. */
  'outbox': { pending: PendingMessage[]; sent?: { clientMsgId: string; message: Message } };
  /** Who is typing in a conversation now. */
  'typers': { conversationId: string; userIds: string[] };
  'presence.changed': { userId: string; online: boolean; lastSeen?: string };
  /** The caller's own read pointer moved (this device or another): clear unread badges. */
  'read-pointer': { conversationId: string; messageId: string };
  /** A catch-up after a connect finished. */
  'synced': { newMessages: number; pages: number };
  'cleared': { conversationId: string };
  'incoming-call': { call: CallSession; from: string };
  'client-error': { error: ChatError; during?: string };
}

export type EventMap = ServerEventMap & ClientEventMap;

declare class Emitter<M> {
  on<K extends keyof M & string>(type: K, fn: (event: M[K]) => void): () => void;
  on(type: '*', fn: (e: { type: string; event: unknown }) => void): () => void;
  off<K extends keyof M & string>(type: K, fn: (event: M[K]) => void): void;
  once<K extends keyof M & string>(type: K, fn: (event: M[K]) => void): () => void;
}

export declare class ChatError extends Error {
  constructor(code: string, message?: string, extra?: { status?: number; retryAfter?: number; requestId?: string });
  /** The contract's error code, or `network`, `timeout`, `disconnected`, `http_<status>`. */
  code: ErrorCode | 'network' | 'timeout' | 'disconnected' | 'gateway' | 'upload_failed' | 'aborted' | string;
  status?: number;
  retryAfter?: number;
  requestId?: string;
}

export interface ChatClientOptions {
  /** The HTTP API base URL, e.g. http://127.0.0.1:3000. */
  httpUrl: string;
  /** The WebSocket URL, e.g. ws://127.0.0.1:3001 (or wss://…/prod). */
  wsUrl: string;
  /** Default DEFAULT_TOKEN_TRANSPORT ('query'). */
  tokenTransport?: TokenTransport;
  /** Where the session and outbox live (default localStorage). */
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
  /** Prefix of storage keys and of the refresh lock (default "chat"). */
  storageKey?: string;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
  /** Refresh this long before the access token expires (default 60 s, at most half its life). */
  refreshLeewayMs?: number;
  /** Keep-alive period (default 240 s, under API Gateway's 10-minute idle timeout). */
  pingIntervalMs?: number;
  /** A ping without pong for this long drops the socket and reconnects (default 10 s). */
  pongTimeoutMs?: number;
  requestTimeoutMs?: number;
  backoff?: { baseMs?: number; maxMs?: number };
  syncPageSize?: number;
  syncOverlapMs?: number;
  receiptDebounceMs?: number;
  /** Send `delivered` for every message from others that arrives live or through sync (default true). */
  autoDelivered?: boolean;
  typingRenewMs?: number;
  typingIdleMs?: number;
  typingExpiryMs?: number;
  rtcConfig?: RTCConfiguration;
}

export interface SendInput {
  conversationId?: string;
  /** A user id: the direct conversation (created on the first message). */
  to?: string;
  content?: string;
  attachmentId?: string;
}

export interface UploadOptions {
  kind?: 'file' | 'voice';
  fileName?: string;
  contentType?: string;
  durationSec?: number;
  onProgress?: (p: { loaded: number; total: number }) => void;
  signal?: AbortSignal;
}

export declare class ChatClient extends Emitter<EventMap> {
  constructor(options: ChatClientOptions);
  readonly options: Required<ChatClientOptions>;
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly state: ConnectionState;
  readonly session: Session | null;
  readonly user: User | null;
  destroy(): void;

  // REST
  api<T = any>(method: string, path: string, init?: { body?: unknown; query?: Record<string, unknown>; auth?: boolean; retry?: boolean; signal?: AbortSignal }): Promise<T>;
  register(input: { username: string; email: string; password: string; displayName?: string }): Promise<User>;
  login(input: { login: string; password: string }): Promise<User>;
  refresh(): Promise<void>;
  logout(): Promise<void>;
  me(): Promise<User>;
  updateMe(fields: { displayName?: string }): Promise<User>;
  searchUsers(q: string, page?: { limit?: number; cursor?: string }): Promise<{ users: User[]; nextCursor: string | null }>;
  getUser(id: string, opts?: { fresh?: boolean }): Promise<User>;
  cachedUser(id: string): User | undefined;
  onlineUsers(): Promise<User[]>;
  stats(): Promise<{ users: number; onlineUsers: number; connections: number; messagesLast24h: number }>;
  health(): Promise<{ status: 'ok'; version: string; checks: Record<string, unknown> }>;

  listConversations(page?: { limit?: number; cursor?: string }): Promise<{ conversations: Conversation[]; nextCursor: string | null }>;
  allConversations(opts?: { pageSize?: number; maxPages?: number }): Promise<Conversation[]>;
  getConversation(id: string): Promise<Conversation>;
  createDirect(userId: string): Promise<Conversation>;
  createGroup(name: string, memberIds?: string[]): Promise<Conversation>;
  createRoom(name: string): Promise<Conversation>;
  addMember(conversationId: string, userId?: string): Promise<Conversation>;
  removeMember(conversationId: string, userId: string): Promise<null>;
  join(conversationId: string): Promise<MemberJoinedEvent | Conversation>;
  leave(conversationId: string): Promise<unknown>;

  history(conversationId: string, page?: { before?: string; after?: string; limit?: number }): Promise<{ messages: Message[]; nextCursor: string | null }>;
  loadOlder(conversationId: string, opts?: { limit?: number }): Promise<number>;
  hasOlder(conversationId: string): boolean;
  refreshLatest(conversationId: string, opts?: { limit?: number }): Promise<{ messages: Message[]; nextCursor: string | null }>;
  editMessage(conversationId: string, messageId: string, content: string): Promise<Message>;
  deleteMessage(conversationId: string, messageId: string): Promise<void>;
  clearHistory(conversationId: string): Promise<void>;
  unread(): Promise<{ total: number; conversations: { conversationId: string; count: number }[] }>;
  scheduleMessage(input: { conversationId: string; content: string; sendAt: string | Date }): Promise<unknown>;
  scheduledMessages(page?: { limit?: number; cursor?: string }): Promise<{ scheduledMessages: unknown[]; nextCursor: string | null }>;
  cancelScheduled(id: string): Promise<null>;

  // attachments, devices, mute, matching
  upload(blob: Blob, opts?: UploadOptions): Promise<string>;
  sendAttachment(target: { conversationId?: string; to?: string }, blob: Blob, opts?: UploadOptions & { caption?: string }): Promise<Message>;
  getAttachment(id: string): Promise<Attachment>;
  registerDevice(device: { deviceId: string; platform?: 'ios' | 'android' | 'web'; pushToken?: string; name?: string }): Promise<unknown>;
  listDevices(): Promise<{ deviceId: string; platform: string; name?: string; lastSeenAt?: string; lastIp?: string; userAgent?: string }[]>;
  deleteDevice(deviceId: string): Promise<null>;
  deviceId(): string;
  setMuted(conversationId: string, muted: boolean): Promise<unknown>;
  waitingForMatch(): Promise<{ waiting: number }>;
  match(): Promise<MatchWaitingEvent | MatchFoundEvent>;
  cancelMatch(): Promise<void>;
  capabilities(opts?: { probeSocket?: boolean }): Promise<Capabilities>;

  // socket
  connect(): void;
  disconnect(): void;
  reconnectNow(): void;
  request<E extends ServerEvent = ServerEvent>(frame: { action: ClientAction; [field: string]: unknown }, opts?: { timeoutMs?: number }): Promise<E>;
  sync(): Promise<{ newMessages: number; pages: number }>;

  // store
  messages(conversationId: string): Message[];
  message(conversationId: string, id: string): Message | undefined;
  pointer(conversationId: string, userId: string): { delivered: string | null; read: string | null };
  send(input: SendInput): Promise<Message>;
  pending(conversationId?: string): PendingMessage[];
  discard(clientMsgId: string): void;
  retry(clientMsgId: string): void;
  markDelivered(conversationId: string, messageId: string): void;
  markRead(conversationId: string, messageId: string): void;
  typing(conversationId: string): void;
  stopTyping(conversationId: string): void;
  typers(conversationId: string): string[];
  presence(userId: string): { online: boolean; lastSeen?: string };

  // calls
  callSignal(to: string, callId: string, signal: CallSignal, data?: unknown): boolean;
  startCall(userId: string, opts?: { video?: boolean }): Promise<CallSession>;
}

export type CallState = 'new' | 'ringing' | 'calling' | 'connecting' | 'connected' | 'ended';

export declare class CallSession extends Emitter<{
  'state': { state: CallState };
  'ended': {};
  'local-stream': { stream: MediaStream };
  'remote-stream': { stream: MediaStream };
}> {
  constructor(o: {
    peer: string;
    callId: string;
    signal: (signal: CallSignal, data: unknown) => void;
    direction: 'outgoing' | 'incoming';
    rtcConfig?: RTCConfiguration;
    offer?: { sdp: string; video?: boolean };
  });
  readonly peer: string;
  readonly callId: string;
  readonly direction: 'outgoing' | 'incoming';
  readonly state: CallState;
  readonly video: boolean;
  readonly localStream: MediaStream | null;
  readonly remoteStream: MediaStream | null;
  endReason?: string;
  start(opts?: { video?: boolean }): Promise<void>;
  accept(opts?: { video?: boolean }): Promise<void>;
  reject(): void;
  end(reason?: string, opts?: { fromPeer?: boolean }): void;
  handle(signal: CallSignal, data: unknown): Promise<void>;
}

export declare function backoffDelay(attempt: number, opts?: { baseMs?: number; maxMs?: number }, random?: () => number): number;
export declare function ulidTime(id: string): number;
export declare function ulidFloor(ms: number): string;
/** A new ULID of millisecond `ms`; as a clientMsgId it makes a send one write. */
export declare function ulidAt(ms: number): string;
/** The server's clock minus this one (ms) from an access token's `iat`; 0 under a second. */
export declare function clockOffsetFromToken(token: string, receivedAt?: number): number;
export declare function directPeer(conversationId: string, me: string | undefined): string | undefined;
export declare function putWithProgress(
  url: string,
  blob: Blob,
  opts?: { headers?: Record<string, string>; onProgress?: (p: { loaded: number; total: number }) => void; signal?: AbortSignal },
): Promise<void>;
