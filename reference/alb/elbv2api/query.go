package elbv2api

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// xmlns is the ELBv2 Query API's XML namespace.
const xmlns = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

// apiError is an AWS error: its code, message and HTTP status. The ELBv2 and S3 endpoints
// render it as XML, ACM as JSON.
type apiError struct {
	Status  int
	Code    string
	Message string
}

// Error implements error.
func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// fault builds a 400 sender error, AWS's usual.
func fault(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// validation is AWS's ValidationError.
func validation(format string, args ...any) *apiError {
	return fault("ValidationError", format, args...)
}

// decodeQuery fills v (a pointer to a struct whose field names are the API's) from a Query
// protocol form: scalars by name, structures as Name.Field, lists as Name.member.N. Every
// parameter must be consumed: an unknown one is a ValidationError naming it. A parameter that
// carries an ELBv2 ARN (arnParams) must have its kind's shape.
func decodeQuery(form url.Values, v any) *apiError {
	used := map[string]bool{"Action": true, "Version": true}
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if err := decodeValue(form, keys, "", reflect.ValueOf(v).Elem(), used); err != nil {
		return err
	}
	for _, k := range keys {
		if !used[k] {
			return validation("Unknown parameter %q: the action takes no such parameter (names are case-sensitive, lists are Name.member.N)", k)
		}
	}
	if err := checkARNs(reflect.ValueOf(v), nil); err != nil {
		return err
	}
	// Every Describe call's PageSize has ELBv2's range.
	if f := reflect.ValueOf(v).Elem().FieldByName("PageSize"); f.IsValid() && f.Kind() == reflect.Pointer && !f.IsNil() {
		// AWS's wording for a modelled constraint, the member named in camel case.
		switch n := f.Elem().Int(); {
		case n < 1:
			return validation("1 validation error detected: Value '%d' at 'pageSize' failed to satisfy constraint: Member must have value greater than or equal to 1", n)
		case n > DefaultPageSize:
			return validation("1 validation error detected: Value '%d' at 'pageSize' failed to satisfy constraint: Member must have value less than or equal to %d", n, DefaultPageSize)
		}
	}
	return nil
}

func hasPrefixKey(keys []string, prefix string) bool {
	i := sort.SearchStrings(keys, prefix)
	return i < len(keys) && strings.HasPrefix(keys[i], prefix)
}

func decodeValue(form url.Values, keys []string, name string, v reflect.Value, used map[string]bool) *apiError {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key := f.Name
			if name != "" {
				key = name + "." + f.Name
			}
			if err := decodeValue(form, keys, key, v.Field(i), used); err != nil {
				return err
			}
		}
		return nil
	case reflect.Pointer:
		if _, ok := form[name]; !ok && !hasPrefixKey(keys, name+".") {
			return nil
		}
		v.Set(reflect.New(v.Type().Elem()))
		return decodeValue(form, keys, name, v.Elem(), used)
	case reflect.Slice:
		if vals, ok := form[name]; ok && len(vals) == 1 && vals[0] == "" {
			used[name] = true // Name= is the Query protocol's empty list
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			return nil
		}
		for n := 1; ; n++ {
			key := name + ".member." + strconv.Itoa(n)
			if _, ok := form[key]; !ok && !hasPrefixKey(keys, key+".") {
				break
			}
			elem := reflect.New(v.Type().Elem()).Elem()
			if err := decodeValue(form, keys, key, elem, used); err != nil {
				return err
			}
			v.Set(reflect.Append(v, elem))
		}
		return nil
	}
	vals, ok := form[name]
	if !ok {
		return nil
	}
	used[name] = true
	if len(vals) != 1 {
		return validation("Parameter %q is given %d times; give it once", name, len(vals))
	}
	s := vals[0]
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return validation("Parameter %q: %q is not an integer", name, s)
		}
		v.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return validation("Parameter %q: %q is not true or false", name, s)
		}
		v.SetBool(b)
	default:
		return validation("Parameter %q cannot be decoded", name)
	}
	return nil
}

// writeQueryResult writes an action's XML answer: <ActionResponse><ActionResult>…
func writeQueryResult(w http.ResponseWriter, action, requestID string, result any) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", requestID)
	var b strings.Builder
	b.WriteString(`<` + action + `Response xmlns="` + xmlns + `">`)
	if result == nil {
		b.WriteString(`<` + action + `Result/>`)
	} else {
		enc := xml.NewEncoder(&b)
		if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			writeQueryError(w, requestID, &apiError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "encode the answer: " + err.Error()})
			return
		}
	}
	b.WriteString(`<ResponseMetadata><RequestId>` + requestID + `</RequestId></ResponseMetadata></` + action + `Response>`)
	_, _ = w.Write([]byte(b.String()))
}

// writeQueryError writes AWS's Query error document.
func writeQueryError(w http.ResponseWriter, requestID string, e *apiError) {
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	doc := struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Type      string   `xml:"Error>Type"`
		Code      string   `xml:"Error>Code"`
		Message   string   `xml:"Error>Message"`
		RequestID string   `xml:"RequestId"`
	}{Xmlns: xmlns, Type: typ, Code: e.Code, Message: e.Message, RequestID: requestID}
	b, _ := xml.Marshal(doc)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

// resource names a kind of ELBv2 resource in a NotFound error.
type resource struct{ code, plural string }

// The resources whose NotFound errors the Describe, Modify and Delete calls answer.
var (
	loadBalancers = resource{"LoadBalancerNotFound", "load balancers"}
	targetGroups  = resource{"TargetGroupNotFound", "target groups"}
	listeners     = resource{"ListenerNotFound", "listeners"}
	trustStores   = resource{"TrustStoreNotFound", "trust stores"}
)

// kind is one kind of the model's entities, keyed by ARN: where the model keeps them and the
// NotFound error a call that names an unknown one answers.
type kind[T any] struct {
	resource
	in func(*model) map[string]*T
}

// The kinds the Modify, Delete and change calls name by ARN.
var (
	loadBalancerKind = kind[loadBalancer]{loadBalancers, func(m *model) map[string]*loadBalancer { return m.LoadBalancers }}
	targetGroupKind  = kind[targetGroup]{targetGroups, func(m *model) map[string]*targetGroup { return m.TargetGroups }}
	listenerKind     = kind[listener]{listeners, func(m *model) map[string]*listener { return m.Listeners }}
	trustStoreKind   = kind[trustStore]{trustStores, func(m *model) map[string]*trustStore { return m.TrustStores }}
)

// changeOne applies fn, as one change, to the entity of kind k that arn names; an unknown arn
// answers k's NotFound and changes nothing. It is the shape of every call that changes one
// entity by its ARN.
func changeOne[T any](ctx context.Context, s *Server, k kind[T], arn string, fn func(m *model, e *T) *apiError) *apiError {
	return s.change(ctx, func(m *model) *apiError {
		e := k.in(m)[arn]
		if e == nil {
			return errNotFound(k.resource)
		}
		return fn(m, e)
	})
}

// errNotFound is ELBv2's answer for an ARN that names nothing: "One or more … not found".
func errNotFound(r resource) *apiError {
	return fault(r.code, "One or more %s not found", r.plural)
}
