package admin

// PluginSchema is the Admin API's view of one plugin: the configuration Kong's schema.lua declares
// for it, and the credential endpoints its daos.lua and api.lua add. The plugin's home
// (reference/kong) defines it; the store only validates against it.
type PluginSchema struct {
	// Name is the plugin's name, as POST /plugins takes it.
	Name string
	// Config is the config record's fields.
	Config []Field
	// Protocols is the default of the plugin's protocols field.
	Protocols []string
	// NoConsumer forbids consumer scoping (authentication plugins run before a consumer exists).
	NoConsumer bool
	// Check returns entity-level violations of a config that passed field validation, in Kong's
	// words ("only one of these fields must be non-empty: …"); nil when there are none.
	Check func(config map[string]any) []string
	// CARefs names config fields that hold ca_certificates ids, so deleting a CA they use fails.
	CARefs []string
	// Credentials, when set, is the credential entity the plugin adds to consumers.
	Credentials *Credentials
}

// Credentials names a plugin's credential entity and where the Admin API serves it, as the
// plugin's api.lua routes it (mtls-auth: /consumers/{c}/mtls-auth and /mtls-auths).
type Credentials struct {
	// Table is the entity's schema name (mtls_auth_credentials, acls).
	Table string
	// ConsumerPath is the segment under /consumers/{consumer}/.
	ConsumerPath string
	// ListPath is the top-level, read-only collection.
	ListPath string
}

// Field is one field of a plugin's config record, built with StringField, IntegerField,
// NumberField, BooleanField or StringArrayField and refined with its methods.
type Field struct{ f *field }

// StringField is a string field.
func StringField(name string) Field { return Field{str(name)} }

// IntegerField is an integer field.
func IntegerField(name string) Field { return Field{integer(name)} }

// NumberField is a number field (an integer or a fraction).
func NumberField(name string) Field { return Field{number(name)} }

// BooleanField is a boolean field.
func BooleanField(name string) Field { return Field{boolean(name)} }

// StringArrayField is an array of strings.
func StringArrayField(name string) Field { return Field{strArray(name)} }

// Default is the value the field takes when a create leaves it out.
func (f Field) Default(v any) Field { f.f.withDefault(v); return f }

// Required refuses a config without the field.
func (f Field) Required() Field { f.f.isRequired(); return f }

// Between bounds a number or integer, both ends included.
func (f Field) Between(lo, hi float64) Field { f.f.in(lo, hi); return f }

// OneOf restricts a string to these values.
func (f Field) OneOf(values ...string) Field { f.f.one(values...); return f }

// ElemOneOf restricts an array's elements to these values.
func (f Field) ElemOneOf(values ...string) Field { f.f.elemOneOf(values...); return f }

// ElemUUID requires an array's elements to be UUIDs.
func (f Field) ElemUUID() Field { f.f.elemUUID(); return f }

// MsgUnexpectedError is Kong's message of a 500, from the Admin API and the proxy alike.
const MsgUnexpectedError = "An unexpected error occurred"

// MaxTTL is Kong's constants.DATABASE.DAO_MAX_TTL (kong/constants.lua), in seconds: the bound of
// a plugin's TTL fields.
const MaxTTL = maxTTL

// MaxTimeout is Kong's typedefs.timeout upper bound (2^31 - 2 ms): a plugin's millisecond
// timeouts are bounded as a service's are.
const MaxTimeout = math32
