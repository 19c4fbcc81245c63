// Package state owns what plan and apply remember about one environment, kept in the blob
// store the environment's state.url names:
//
//	<env>/resources.json            every resource's last status (Read, Write, Update, Repair)
//	<env>/lock.json                 the apply lock (Acquire, Release, ForceUnlock)
//	<env>/audit/<time>-<id>.json    one object per apply, never rewritten (AppendAudit, ReadAudit)
//
// Every write is conditional: resources.json is replaced only at the generation it was read
// at, the lock is created only if absent and broken only at the generation it was seen at,
// and audit records are created only if absent. So two processes never overwrite each other's
// work silently; they get ErrConflict, a *LockedError or a retry.
//
// The records are plain data: no credentials, passwords or tokens are ever stored here (a test
// guards the types). The package knows nothing about sinks, plans or the CLI and must not
// import them.
package state
