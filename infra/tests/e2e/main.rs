//! Every end-to-end test in one binary: the AWS SDK and the chat link once, and the tests share
//! one emulator process (`support::aws_endpoint`). Each test still gets its own table, queues and
//! gateway on random ports (`support::TestEnv`), so tests running in parallel never see each
//! other's data.

mod support;

mod api_docs;
mod auth;
mod authz;
mod conversations;
mod faults;
mod gateway;
mod limits;
mod messaging;
mod presence;
mod receipts;
mod scheduled;
mod users;
