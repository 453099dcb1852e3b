// Module openapi validates the OpenAPI 3.1 documents GoMs serves at
// /openapi.json (the example shop's, the fixtures' and the generator's
// golden cases') with a maintained validator, libopenapi and
// libopenapi-validator. It is a module of its own so that the validator
// never enters ../../go.mod, whose requirements GoMs's users inherit.
package openapi
