//! The command line of the runtime verbs: running actions, executions, rule enforcements and
//! the datastore.
//!
//! Owns: their clap definitions. Must not: connect or print anything.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The action's ref, `pack.name`.
    #[arg(value_name = "ACTION")]
    pub action: String,
    /// `key=value` parameters (converted by the declared type; `@key=path` reads a file; a
    /// repeated array key appends); the first word without `=` starts `cmd`.
    #[arg(value_name = "PARAMETERS")]
    pub parameters: Vec<String>,
    /// Do not wait for the execution to finish; print its id.
    #[arg(short = 'a', long = "async")]
    pub run_async: bool,
    /// A trace tag to find the execution by later.
    #[arg(long = "trace-tag", visible_alias = "trace_tag", value_name = "TAG")]
    pub trace_tag: Option<String>,
    /// The user the execution runs for.
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,
    /// Pass this shell's environment as the `env` parameter.
    #[arg(short = 'e', long = "inherit-env")]
    pub inherit_env: bool,
}

#[derive(Debug, Args)]
pub struct ExecutionNoun {
    #[command(subcommand)]
    pub verb: ExecutionVerb,
}

#[derive(Debug, Subcommand)]
pub enum ExecutionVerb {
    /// The newest executions (listed oldest first).
    List {
        /// Only executions of this action.
        #[arg(long, value_name = "REF")]
        action: Option<String>,
        /// Only executions with this status.
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
        /// Only executions caused by this trigger instance.
        #[arg(long = "trigger-instance", visible_alias = "trigger_instance", value_name = "ID")]
        trigger_instance: Option<String>,
        /// How many (default 50).
        #[arg(short = 'n', long = "last", default_value_t = 50)]
        last: u32,
        /// Workflows' task executions too (by default only top-level executions).
        #[arg(long = "showall", visible_alias = "show-all")]
        show_all: bool,
    },
    /// Show one, with its result (a workflow: with its task tree).
    Get {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Follow its output until it completes.
    Tail {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Cancel queued or running executions (their process groups are killed; a workflow's
    /// running tasks are canceled with it).
    Cancel {
        #[arg(value_name = "ID", required = true)]
        ids: Vec<String>,
    },
    /// Pause Orquesta workflows: running tasks finish, nothing new starts.
    Pause {
        #[arg(value_name = "ID", required = true)]
        ids: Vec<String>,
    },
    /// Resume paused Orquesta workflows.
    Resume {
        #[arg(value_name = "ID", required = true)]
        ids: Vec<String>,
    },
    /// Run an execution's action again, with its parameters and the given ones over them; or
    /// resume an Orquesta workflow's run from some of its tasks.
    #[command(name = "re-run")]
    ReRun(ReRunArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ReRunArgs {
    /// The execution to run again.
    #[arg(value_name = "ID")]
    pub id: String,
    /// `key=value` parameters over the original's (not with `--tasks`).
    #[arg(value_name = "PARAMETERS")]
    pub parameters: Vec<String>,
    /// Orquesta workflows: the tasks to run again (names separated by spaces or commas).
    #[arg(long, num_args = 1.., value_delimiter = ',', value_name = "TASK")]
    pub tasks: Vec<String>,
    /// Of `--tasks`, the with-items tasks to run again only where items did not succeed (by
    /// default every item runs again).
    #[arg(long = "no-reset", num_args = 1.., value_delimiter = ',', value_name = "TASK")]
    pub no_reset: Vec<String>,
    /// Do not wait for the execution to finish; print its id.
    #[arg(short = 'a', long = "async")]
    pub run_async: bool,
    /// The user the execution runs for.
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,
}

#[derive(Debug, Args)]
pub struct RuleEnforcementNoun {
    #[command(subcommand)]
    pub verb: RuleEnforcementVerb,
}

#[derive(Debug, Subcommand)]
pub enum RuleEnforcementVerb {
    /// The newest enforcements first.
    List {
        /// Only enforcements of this rule.
        #[arg(long, value_name = "REF")]
        rule: Option<String>,
        /// Only enforcements for this trigger instance.
        #[arg(long = "trigger-instance", visible_alias = "trigger_instance", value_name = "ID")]
        trigger_instance: Option<String>,
        /// How many (default 50).
        #[arg(short = 'n', long = "last", default_value_t = 50)]
        last: u32,
    },
}

#[derive(Debug, Args)]
pub struct KeyNoun {
    #[command(subcommand)]
    pub verb: KeyVerb,
}

#[derive(Debug, Subcommand)]
pub enum KeyVerb {
    /// List keys (both scopes by default).
    List {
        /// Only keys whose names start with this.
        #[arg(long, value_name = "PREFIX")]
        prefix: Option<String>,
        /// Show secrets in clear.
        #[arg(short = 'd', long)]
        decrypt: bool,
        /// `system`, `user` or `all`.
        #[arg(short = 's', long, default_value = "all")]
        scope: String,
        /// Whose user keys (default the system user).
        #[arg(short = 'u', long, value_name = "USER")]
        user: Option<String>,
    },
    /// Show one key.
    Get {
        #[arg(value_name = "NAME")]
        name: String,
        /// Show a secret in clear.
        #[arg(short = 'd', long)]
        decrypt: bool,
        #[arg(short = 's', long, default_value = "system")]
        scope: String,
        #[arg(short = 'u', long, value_name = "USER")]
        user: Option<String>,
    },
    /// Set a key (a change fires core.st2.key_value_pair.* triggers).
    Set {
        #[arg(value_name = "NAME")]
        name: String,
        #[arg(value_name = "VALUE")]
        value: String,
        /// Store it encrypted, as a secret.
        #[arg(short = 'e', long)]
        encrypt: bool,
        /// Seconds until it expires.
        #[arg(short = 'l', long, value_name = "SECONDS")]
        ttl: Option<u64>,
        #[arg(short = 's', long, default_value = "system")]
        scope: String,
        #[arg(short = 'u', long, value_name = "USER")]
        user: Option<String>,
    },
    /// Delete a key.
    Delete {
        #[arg(value_name = "NAME")]
        name: String,
        #[arg(short = 's', long, default_value = "system")]
        scope: String,
        #[arg(short = 'u', long, value_name = "USER")]
        user: Option<String>,
    },
    /// Set the keys in a JSON or YAML file (one object or a list of them).
    Load {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Store values that are not strings as JSON text.
        #[arg(short = 'c', long)]
        convert: bool,
    },
}

#[derive(Debug, Args)]
pub struct InquiryNoun {
    #[command(subcommand)]
    pub verb: InquiryVerb,
}

#[derive(Debug, Subcommand)]
pub enum InquiryVerb {
    /// Inquiries waiting for a response (the newest, listed oldest first).
    List {
        /// How many (default 50).
        #[arg(short = 'n', long = "last", default_value_t = 50)]
        last: u32,
    },
    /// Show one, with the schema its response must follow.
    Get {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Respond: the whole response as JSON with `-r`, or answered key by key as the schema asks.
    Respond {
        #[arg(value_name = "ID")]
        id: String,
        /// The entire response as a JSON object (bypasses the questions).
        #[arg(short = 'r', long = "response", value_name = "JSON")]
        response: Option<String>,
        /// Who responds (default the system user).
        #[arg(short = 'u', long, value_name = "USER")]
        user: Option<String>,
    },
}
