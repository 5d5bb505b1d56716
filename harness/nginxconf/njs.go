package nginxconf

import (
	"encoding/json"
	"fmt"
	"strings"
)

// njsLibrary reads the client certificate's subject alternative names, which nginx exposes in no
// variable, by walking the DER of $ssl_client_raw_cert; and runs Kong's consumer lookup (SPEC
// K-MTLS-4: every SAN, then the CN; CA-bound credentials, CA-less ones, then consumer_by) over a
// table rendered per plugin. SANs are listed by kind like internal/certinfo.SANs: DNS names,
// e-mail addresses, URIs, then IP addresses. Its lookup function is reference/kong's
// ConsumerIndex.Lookup in JavaScript, the one restatement left, because nginx cannot run Go: the
// table is that index, and the Kong suite's K-MTLS-4 specs, which the nginx target claims when
// njs is installed, hold the two to the same outcomes.
const njsLibrary = `// Rendered by mtlsgate (harness/nginxconf); do not edit.
function tlv(b, i) {
    var tag = b[i], len = b[i + 1], off = i + 2;
    if (len & 0x80) {
        var n = len & 0x7f;
        len = 0;
        for (var k = 0; k < n; k++) { len = len * 256 + b[off + k]; }
        off += n;
    }
    return {tag: tag, start: off, end: off + len};
}
function kids(b, node) {
    var out = [], i = node.start;
    while (i < node.end) { var c = tlv(b, i); out.push(c); i = c.end; }
    return out;
}
function ipString(b, s, e) {
    if (e - s == 4) { return [b[s], b[s + 1], b[s + 2], b[s + 3]].join('.'); }
    var g = [];
    for (var i = s; i < e; i += 2) { g.push(b[i] * 256 + b[i + 1]); }
    var best = -1, bestLen = 1;
    for (var j = 0; j < g.length;) {
        if (g[j] != 0) { j++; continue; }
        var k = j;
        while (k < g.length && g[k] == 0) { k++; }
        if (k - j > bestLen) { best = j; bestLen = k - j; }
        j = k;
    }
    var hex = g.map(function (x) { return x.toString(16); });
    if (best < 0) { return hex.join(':'); }
    return hex.slice(0, best).join(':') + '::' + hex.slice(best + bestLen).join(':');
}
function sanList(r) {
    var pem = r.variables.ssl_client_raw_cert;
    if (!pem) { return []; }
    var b = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    var tbs = kids(b, tlv(b, 0))[0];
    var fields = kids(b, tbs), ext = null;
    for (var i = 0; i < fields.length; i++) { if (fields[i].tag == 0xa3) { ext = fields[i]; } }
    if (!ext) { return []; }
    var exts = kids(b, kids(b, ext)[0]);
    var byKind = {0x82: [], 0x81: [], 0x86: [], 0x87: []};
    for (var j = 0; j < exts.length; j++) {
        var parts = kids(b, exts[j]);
        if (b.slice(parts[0].start, parts[0].end).toString('hex') != '551d11') { continue; }
        var os = parts[parts.length - 1];
        var names = kids(b, tlv(b, os.start));
        for (var n = 0; n < names.length; n++) {
            var nm = names[n];
            if (!byKind[nm.tag]) { continue; }
            byKind[nm.tag].push(nm.tag == 0x87 ? ipString(b, nm.start, nm.end) : b.slice(nm.start, nm.end).toString());
        }
    }
    return byKind[0x82].concat(byKind[0x81], byKind[0x86], byKind[0x87]);
}
function names(r) {
    var out = sanList(r), cn = r.variables.mtlsgate_cn;
    if (cn) { out.push(cn); }
    return out;
}
function san(r) {
    try { return names(r).join(','); } catch (e) { r.error('mtlsgate: cannot read the client certificate SANs: ' + e); return ''; }
}
function lookup(r, t) {
    var ns;
    try { ns = names(r); } catch (e) { r.error('mtlsgate: cannot read the client certificate SANs: ' + e); return ''; }
    var ca = r.variables.mtlsgate_ca;
    for (var i = 0; i < ns.length; i++) {
        var c = t.creds[ns[i]];
        if (!c) { continue; }
        if (ca && c[ca]) { return c[ca]; }
        if (c['']) { return c['']; }
    }
    for (var j = 0; j < ns.length; j++) {
        for (var k = 0; k < t.consumer_by.length; k++) {
            var id = t[t.consumer_by[k]] && t[t.consumer_by[k]][ns[j]];
            if (id) { return id; }
        }
    }
    return t['default'];
}
`

// njsScript renders the library with one lookup function per mtls-auth plugin.
func njsScript(plugins []*mtlsPlugin) ([]byte, error) {
	var b strings.Builder
	b.WriteString(njsLibrary)
	exports := []string{"san"}
	for _, p := range plugins {
		t, err := json.Marshal(p.table)
		if err != nil {
			return nil, fmt.Errorf("encode the consumer table of plugin %s: %w", p.id, err)
		}
		fmt.Fprintf(&b, "// plugin %s\nvar table_%s = %s;\nfunction lookup_%s(r) { return lookup(r, table_%s); }\n", p.id, p.n, t, p.n, p.n)
		exports = append(exports, "lookup_"+p.n)
	}
	fmt.Fprintf(&b, "export default {%s};\n", strings.Join(exports, ", "))
	return []byte(b.String()), nil
}
