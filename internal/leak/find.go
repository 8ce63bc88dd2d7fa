package leak

import (
	"fmt"
	"strings"
)

// window is the length of the signature fragments [Find] looks for. Twelve
// base64url characters are 72 random bits of an RS256 signature: no honest
// text holds one by chance, and a token cut anywhere (at a '-' or '_' that a
// weakened pattern stops at, or by a length limit) still leaves one behind.
const window = 12

// Find reports whether text holds a secret, in words that do not quote it,
// so that a test can put the answer in its failure message: "" when text is
// clean, else what was found ("secret 1 whole", "a fragment of secret 2's
// signature part", "a JWT header (eyJ)"). It looks for each secret whole,
// for any fragment of the signature part of a secret that is a JWT, and for
// the "eyJ" that starts every JWT header, whatever follows it.
//
//	if where := leak.Find(err.Error(), tok); where != "" {
//		t.Errorf("the error holds %s", where)
//	}
func Find(text string, secrets ...string) string {
	for i, sec := range secrets {
		if sec == "" {
			continue
		}
		if strings.Contains(text, sec) {
			return fmt.Sprintf("secret %d whole", i+1)
		}
		if sig := signature(sec); sig != "" {
			for j := 0; j+window <= len(sig); j++ {
				if strings.Contains(text, sig[j:j+window]) {
					return fmt.Sprintf("a fragment of secret %d's signature part (at byte %d of the signature)", i+1, j)
				}
			}
		}
	}
	if strings.Contains(text, "eyJ") {
		return `a JWT header ("eyJ")`
	}
	return ""
}

// signature returns the third part of a compact JWS, or "" when sec is not
// shaped like one or its signature is too short to fragment.
func signature(sec string) string {
	parts := strings.Split(sec, ".")
	if len(parts) != 3 || len(parts[2]) < window {
		return ""
	}
	return parts[2]
}
