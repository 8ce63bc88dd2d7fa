// Package emulator runs tenantbridge's whole offline emulator (Microsoft
// Entra, the Azure managed-identity endpoints, Microsoft Graph and Azure
// Resource Manager) in process,
// started from a Go test with one call. It gives the emulator's URLs, its CA,
// the environment block an Azure host would give a workload, and the
// underlying servers for request logs and faults.
//
//	emu, err := emulator.Start(nil) // default scenario, App Service mode, loopback, free ports
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(emu.Close)
//	emu.Env().Apply(t.Setenv)                  // this test sees IDENTITY_ENDPOINT, AZURE_AUTHORITY_HOST, ...
//	cmd.Env = emu.Env().Merge(os.Environ())    // or a child process does
//
// Clients find the emulator through the environment block ([Emulator.Env]),
// exactly as they find the real services on an Azure host, or through the
// typed accessors ([Emulator.AuthorityHost], [Emulator.AppServiceEndpoint],
// [Emulator.GraphURL], [Emulator.ARMURL], ...) with [Emulator.Client], which trusts the
// emulator's CAs. [Options.Mode] picks the platform the block describes: App
// Service / Functions, IMDS, AKS workload identity (a token file the
// emulator keeps fresh), a GitHub Actions job, or an Azure Arc-enabled
// server (its key files in [Emulator.ArcKeyDirectory]).
//
// Like every fake of this module, the emulator scripts faults
// ([Emulator.AddFault], [Emulator.ClearFaults]; each goes to the server its
// endpoint names; [ParseFault] reads `fakemsi --fault` specs for every
// endpoint) and records requests ([Emulator.Requests], merged in
// arrival order, and [Emulator.ResetRequests]). [Emulator.IDP],
// [Emulator.Graph] and [Emulator.ARM] are the servers themselves, for the rest: rotate keys,
// move the clock, warm up IMDS, issue tokens.
//
// The emulator binds loopback addresses only unless [Options.Addr] says
// otherwise and [Options.AllowNonLoopback] says the caller means it: it gives
// a token to whoever asks. Each server's request log keeps its last 10,000
// requests and at most 4 MiB of them, with clipped values, so neither a long
// run nor a client sending megabyte requests grows it without bound; every
// listener closes a connection that sends no complete header within 10 s.
//
// MSAL Go (inside azidentity) keeps one process-wide managed-identity token
// cache: two azidentity ManagedIdentityCredentials in one test binary share
// tokens even across emulators, and a token from one is refused by another.
// A test binary that uses azidentity's managed identity should start one
// emulator (in TestMain) and share it.
//
// # Where it lives
//
// The protocols live in the fakes: package fakeidp (Entra's token endpoint,
// discovery and keys, the managed-identity endpoints, scenarios, faults) and
// package graphlite/graphtest (Graph's devices, paging, $batch, faults) and
// package armtest (Resource Manager's subscriptions, tenants and resource
// groups). This
// package assembles them into one emulator (starting, the CA bundle, the
// environment block and what it says about a scenario, the workload token
// file's rotation, log redaction) and is what a Go test starts. Command
// cmd/fakemsi is a thin program over it: flags, the config file, signals,
// `exec` of a child process with the environment block, `serve`'s output and
// `demo`. A new emulated platform (a mode) or service (a fake of its own)
// is added here and in its fake; the command only gains a flag value.
package emulator
