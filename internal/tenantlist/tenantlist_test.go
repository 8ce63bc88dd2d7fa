package tenantlist

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"empty", "", nil},
		{"separators only", " ,; \t\n", nil},
		{"one", "22222222-2222-2222-2222-222222222222", []string{"22222222-2222-2222-2222-222222222222"}},
		{"comma", "a,b", []string{"a", "b"}},
		{"semicolon", "a;b", []string{"a", "b"}},
		{"mixed with spaces", " a , b;c ;; d ", []string{"a", "b", "c", "d"}},
		{"whitespace only", "a b\tc\nd\r\ne", []string{"a", "b", "c", "d", "e"}},
		{"case and duplicates kept", "A,a,*", []string{"A", "a", "*"}},
		{"domain names", "contoso.onmicrosoft.com;fabrikam.com", []string{"contoso.onmicrosoft.com", "fabrikam.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Parse(tc.in)); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}
