//! `git fleet mcp`: a Model Context Protocol server over stdio (rmcp).
//!
//! Each tool runs this binary's own command with `--json` in the server's
//! repository (see `git_fleet::mcp`), so an agent gets exactly the policy,
//! identity and receipts a person at the shell gets. A refusal (exit 2) is a
//! tool error carrying the command's error message and hint.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::mcp::{self, Reply};
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};
use rmcp::handler::server::{router::tool::ToolRouter, wrapper::Parameters};
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{tool, tool_handler, tool_router, ServerHandler, ServiceExt};
use std::path::PathBuf;

/// Serve git-fleet's tools to an agent over MCP (Model Context Protocol, stdio).
///
/// Tools: diff, render, why, get, set, propose, show, proposals, receipts,
/// proof. Each runs this program's own command with --json in the current
/// repository, as this process's git identity: the agent is bound by the
/// same [[policy]] and leaves the same receipts as a person would. `set` is a
/// dry run unless the call says apply=true. Register it in an MCP client as
/// the command `git-fleet` with args `["-C", "/path/to/repo", "mcp"]`
/// (README: "Agents: git fleet mcp").
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet mcp                       # speaks MCP on stdin/stdout\n  git fleet -C ~/src/fleet mcp"
)]
pub struct McpArgs {}

pub fn run(ui: &Ui, ws: &Workspace, _args: McpArgs) -> Result<Outcome> {
    // Refuse at once outside a repository (the dispatch opened it) or with a
    // malformed fleet.toml, rather than answer every call with it.
    ws.config()?;
    let dir = std::env::current_dir()
        .map_err(|e| Error::Command(format!("cannot read the current directory: {e}")))?;
    let exe = std::env::current_exe()
        .map_err(|e| Error::Command(format!("cannot find this program's path: {e}")))?;
    ui.status(format!(
        "git fleet mcp: serving {} on stdio (Ctrl-D ends)",
        dir.display()
    ));
    // One client on stdio: a current-thread runtime; commands run on the
    // blocking pool so a slow one never stalls the protocol.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Command(format!("cannot start the MCP runtime: {e}")))?;
    let server = FleetServer::new(exe, dir);
    runtime
        .block_on(async move {
            let service = server.serve(rmcp::transport::stdio()).await?;
            service.waiting().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .map_err(|e| Error::Command(format!("MCP session failed: {e}")))?;
    // A blocked stdin read must not keep the process alive after the session.
    runtime.shutdown_background();
    Ok(Outcome::Done)
}

#[derive(Clone)]
struct FleetServer {
    exe: PathBuf,
    dir: PathBuf,
    tool_router: ToolRouter<Self>,
}

impl FleetServer {
    fn new(exe: PathBuf, dir: PathBuf) -> FleetServer {
        FleetServer {
            exe,
            dir,
            tool_router: Self::tool_router(),
        }
    }

    /// Run one command (or refuse arguments that do not map to one).
    async fn call(&self, argv: std::result::Result<Vec<String>, String>) -> CallToolResult {
        let reply = match argv {
            Err(message) => Reply::refused(message),
            Ok(argv) => {
                let (exe, dir) = (self.exe.clone(), self.dir.clone());
                tokio::task::spawn_blocking(move || mcp::run(&exe, &dir, &argv))
                    .await
                    .unwrap_or_else(|e| Reply::refused(format!("the command did not finish: {e}")))
            }
        };
        let structured = reply.structured();
        let mut result = match &reply.error {
            None => CallToolResult::structured(structured),
            Some(message) => {
                let mut r = CallToolResult::structured_error(structured);
                // The message and hint first: what an agent shows its user.
                r.content.insert(0, ContentBlock::text(message.clone()));
                r
            }
        };
        result.is_error = Some(reply.error.is_some());
        result
    }
}

#[tool_router]
impl FleetServer {
    #[tool(
        description = "Compare the desired fleet file with a target's recorded live state: changes per resource with blast radius (`git fleet diff --json`). Reads only."
    )]
    async fn diff(&self, Parameters(a): Parameters<mcp::DiffTool>) -> CallToolResult {
        self.call(a.argv()).await
    }

    #[tool(
        description = "Effective (rendered) config of nodes, from the desired file or a target's live snapshot (`git fleet render --json`). Reads only."
    )]
    async fn render(&self, Parameters(a): Parameters<mcp::RenderTool>) -> CallToolResult {
        self.call(a.argv()).await
    }

    #[tool(
        description = "Where a node's rendered value comes from: every layer that sets it (file:line), the commit that changed it and the receipt that put it live (`git fleet why --json`). Reads only."
    )]
    async fn why(&self, Parameters(a): Parameters<mcp::WhyTool>) -> CallToolResult {
        self.call(a.argv()).await
    }

    #[tool(
        description = "Find values in the desired file by selector (`git fleet get --json`). Reads only."
    )]
    async fn get(&self, Parameters(a): Parameters<mcp::GetTool>) -> CallToolResult {
        self.call(a.argv()).await
    }

    #[tool(
        description = "Change values in the desired file by selector (`git fleet set --json`). A dry run (edit, blast radius, policy decision; nothing written) unless `apply` is true; then the change is checked against this repository's policy for the server's git identity and committed, or refused."
    )]
    async fn set(&self, Parameters(a): Parameters<mcp::SetTool>) -> CallToolResult {
        self.call(a.argv()).await
    }

    #[tool(
        description = "Open proposals for one target: one reconcile tick (`git fleet reconcile TARGET --json`); auto-apply happens only where the target allows it."
    )]
    async fn propose(&self, Parameters(a): Parameters<mcp::ProposeTool>) -> CallToolResult {
        self.call(a.argv()).await
    }

    #[tool(
        description = "One proposal: the change, full before/after and every transition (`git fleet show ID --json`). Reads only."
    )]
    async fn show(&self, Parameters(a): Parameters<mcp::ShowTool>) -> CallToolResult {
        self.call(a.argv()).await
    }

    #[tool(
        description = "List proposals, by target and state (`git fleet proposals --json`). Reads only."
    )]
    async fn proposals(&self, Parameters(a): Parameters<mcp::ProposalsTool>) -> CallToolResult {
        self.call(a.argv()).await
    }

    #[tool(
        description = "The signed receipt log, newest first, or the receipts on one commit (`git fleet receipts log|show --json`). Reads only."
    )]
    async fn receipts(&self, Parameters(a): Parameters<mcp::ReceiptsTool>) -> CallToolResult {
        self.call(a.argv()).await
    }

    #[tool(
        description = "Delivery closeout for a commit: on origin, peers current or blocked with the reason, runtime checks (`git fleet proof --json`). Exit code 1 means something is still owed. Reads only."
    )]
    async fn proof(&self, Parameters(a): Parameters<mcp::ProofTool>) -> CallToolResult {
        self.call(a.argv()).await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for FleetServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("git-fleet", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "git-fleet tools for one repository. Each tool runs `git fleet <command> --json` \
                 with this server's git identity, so the repository's [[policy]] bounds every \
                 write and every write leaves a receipt. The result is {exit_code, output} \
                 (exit_code 1: something to see) or, when refused, a tool error with the \
                 message, hint and {exit_code: 2, error}. `set` is a dry run unless apply=true.",
            )
    }
}
