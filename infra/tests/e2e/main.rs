//! Every end-to-end test in one binary: the AWS SDK and the chat link once, and the tests share
//! one emulator process (`support::aws_endpoint`). Each test still gets its own table, queues and
//! gateway on random ports (`support::TestEnv`), so tests running in parallel never see each
//! other's data.

mod support;

mod api_docs;
mod attachments;
mod auth;
mod authz;
mod calls;
// libtest starts tests in name order; the minute-long wall-clock test lives in `clock` so that it
// starts early and overlaps the rest instead of running alone at the end.
mod clock;
mod conversations;
mod derived_ids;
mod devices;
mod events;
mod faults;
mod gateway;
mod limits;
mod matching;
mod messaging;
mod presence;
mod push;
mod receipts;
mod scheduled;
mod users;
mod webhooks;
// defects branch: sizes, security, fuzz, load, stale presence
mod faults_push;
mod fuzz;
mod held_sockets;
mod load;
mod passwords;
mod security;
mod security_keys;
mod security_tokens;
mod sizes;
mod stale_presence;
mod stranger_matrix;
mod strict_inputs;
