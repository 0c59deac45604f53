#!/usr/bin/env node
// Committed shim, so package managers can link the binary before the
// TypeScript build has produced dist/ (workspace installs on a fresh clone).
import '../dist/bin.js';
