package federated

// Redact and RedactErr let the external tests (package federated_test) print
// errors in failure messages without a token, as the internal tests do.
var (
	Redact    = redact
	RedactErr = redactErr
)
