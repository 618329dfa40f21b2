// Package handlers runs the agent's event handlers: the shell commands an
// operator attaches to events with --event-handler or the event_handlers
// config key.
//
// So far it holds the parser for handler specs, Serf's
// "[filter[,filter...]=]command" syntax (see [ParseSpec]). Running the
// commands (their environment, the event on stdin, timeouts) comes later.
//
// It imports only the events package from this module.
package handlers
