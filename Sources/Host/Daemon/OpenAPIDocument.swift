/// The OpenAPI 3.0 document served at GET /api/v1/openapi.json, written by hand. It must stay
/// exactly true to what the handlers in APIServer.swift return (the schemathesis test checks
/// every response against it); change both together.
enum OpenAPIDocument {
    static let json = #"""
{
  "openapi": "3.0.3",
  "info": {
    "title": "eunomia server API",
    "version": "1",
    "description": "Control a running eunomia server: install plugins, start, stop and swap trackers, stream their records. Over the Unix socket no token is needed; over TCP every request carries Authorization: Bearer TOKEN (STORE/server.token)."
  },
  "servers": [{ "url": "/" }],
  "security": [{ "bearer": [] }],
  "paths": {
    "/api/v1/health": {
      "get": {
        "operationId": "health",
        "summary": "Liveness and the number of trackers",
        "responses": {
          "200": { "description": "The server is up", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Health" } } } },
          "401": { "$ref": "#/components/responses/Unauthorized" }
        }
      }
    },
    "/api/v1/version": {
      "get": {
        "operationId": "version",
        "summary": "Host version and plugin ABI",
        "responses": {
          "200": { "description": "Versions", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Version" } } } },
          "401": { "$ref": "#/components/responses/Unauthorized" }
        }
      }
    },
    "/api/v1/openapi.json": {
      "get": {
        "operationId": "openapi",
        "summary": "This document",
        "responses": {
          "200": { "description": "The OpenAPI document", "content": { "application/json": { "schema": { "type": "object" } } } },
          "401": { "$ref": "#/components/responses/Unauthorized" }
        }
      }
    },
    "/api/v1/plugins": {
      "get": {
        "operationId": "listPlugins",
        "summary": "Installed plugins by name and version, and damaged store entries",
        "responses": {
          "200": { "description": "The store's contents", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PluginList" } } } },
          "401": { "$ref": "#/components/responses/Unauthorized" }
        }
      },
      "post": {
        "operationId": "installPlugin",
        "summary": "Install a package (the body is the .pkg file); verified exactly as by eunomia plugin install",
        "description": "The package must carry a valid signature by a key in the store's trust store (eunomia key trust), unless allow_unsigned=true; otherwise 400 naming the untrusted key ids, or saying the package is not signed.",
        "parameters": [
          { "name": "allow_unsigned", "in": "query", "required": false, "schema": { "type": "boolean", "default": false }, "description": "Install a package no trusted key signed, recorded as unsigned (as --allow-unsigned)" }
        ],
        "requestBody": {
          "required": true,
          "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } }
        },
        "responses": {
          "201": { "description": "Installed", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Installed" } } } },
          "200": { "description": "Already installed (the same build)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Installed" } } } },
          "400": { "$ref": "#/components/responses/BadRequest" },
          "401": { "$ref": "#/components/responses/Unauthorized" },
          "413": { "$ref": "#/components/responses/TooLarge" },
          "422": { "$ref": "#/components/responses/Failed" }
        }
      }
    },
    "/api/v1/plugins/{name}": {
      "delete": {
        "operationId": "removePlugin",
        "summary": "Remove every version of a plugin (damaged builds included)",
        "parameters": [{ "$ref": "#/components/parameters/PluginName" }],
        "responses": {
          "200": { "description": "Removed", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Removed" } } } },
          "400": { "$ref": "#/components/responses/BadRequest" },
          "401": { "$ref": "#/components/responses/Unauthorized" },
          "404": { "$ref": "#/components/responses/NotFound" },
          "409": { "$ref": "#/components/responses/Conflict" },
          "422": { "$ref": "#/components/responses/Failed" }
        }
      }
    },
    "/api/v1/plugins/{name}/{version}": {
      "delete": {
        "operationId": "removePluginVersion",
        "summary": "Remove one version of a plugin",
        "parameters": [
          { "$ref": "#/components/parameters/PluginName" },
          { "name": "version", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$", "maxLength": 128 }, "description": "A semantic version (semver.org 2.0.0)", "example": "0.1.0" }
        ],
        "responses": {
          "200": { "description": "Removed", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Removed" } } } },
          "400": { "$ref": "#/components/responses/BadRequest" },
          "401": { "$ref": "#/components/responses/Unauthorized" },
          "404": { "$ref": "#/components/responses/NotFound" },
          "409": { "$ref": "#/components/responses/Conflict" },
          "422": { "$ref": "#/components/responses/Failed" }
        }
      }
    },
    "/api/v1/trackers": {
      "get": {
        "operationId": "listTrackers",
        "summary": "Every tracker the server manages",
        "responses": {
          "200": { "description": "Trackers by id", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TrackerList" } } } },
          "401": { "$ref": "#/components/responses/Unauthorized" }
        }
      },
      "post": {
        "operationId": "startTracker",
        "summary": "Start a tracker",
        "requestBody": {
          "required": true,
          "content": { "application/json": { "schema": { "$ref": "#/components/schemas/StartRequest" } } }
        },
        "responses": {
          "201": { "description": "Started", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Tracker" } } } },
          "400": { "$ref": "#/components/responses/BadRequest" },
          "401": { "$ref": "#/components/responses/Unauthorized" },
          "404": { "$ref": "#/components/responses/NotFound" },
          "409": { "$ref": "#/components/responses/Conflict" },
          "413": { "$ref": "#/components/responses/TooLarge" },
          "422": { "$ref": "#/components/responses/Failed" }
        }
      }
    },
    "/api/v1/trackers/{id}": {
      "get": {
        "operationId": "getTracker",
        "summary": "One tracker: build, parameters, state and counters",
        "parameters": [{ "$ref": "#/components/parameters/TrackerID" }],
        "responses": {
          "200": { "description": "The tracker", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Tracker" } } } },
          "400": { "$ref": "#/components/responses/BadRequest" },
          "401": { "$ref": "#/components/responses/Unauthorized" },
          "404": { "$ref": "#/components/responses/NotFound" },
          "409": { "$ref": "#/components/responses/Conflict" }
        }
      },
      "delete": {
        "operationId": "stopTracker",
        "summary": "Stop a tracker: detach, deliver its final report, end its streams; returns its last state",
        "parameters": [{ "$ref": "#/components/parameters/TrackerID" }],
        "responses": {
          "200": { "description": "Stopped", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Tracker" } } } },
          "400": { "$ref": "#/components/responses/BadRequest" },
          "401": { "$ref": "#/components/responses/Unauthorized" },
          "404": { "$ref": "#/components/responses/NotFound" },
          "409": { "$ref": "#/components/responses/Conflict" },
          "422": { "$ref": "#/components/responses/Failed" }
        }
      }
    },
    "/api/v1/trackers/{id}/swap": {
      "post": {
        "operationId": "swapTracker",
        "summary": "Move a running tracker to another installed version of its plugin",
        "parameters": [{ "$ref": "#/components/parameters/TrackerID" }],
        "requestBody": {
          "required": true,
          "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SwapRequest" } } }
        },
        "responses": {
          "200": { "description": "Swapped", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SwapReport" } } } },
          "400": { "$ref": "#/components/responses/BadRequest" },
          "401": { "$ref": "#/components/responses/Unauthorized" },
          "404": { "$ref": "#/components/responses/NotFound" },
          "409": { "$ref": "#/components/responses/Conflict" },
          "413": { "$ref": "#/components/responses/TooLarge" },
          "422": { "$ref": "#/components/responses/Failed" }
        }
      }
    },
    "/api/v1/trackers/{id}/events": {
      "get": {
        "operationId": "trackerEvents",
        "summary": "Live records: Server-Sent Events (data: JSON) or JSON lines, until the tracker stops",
        "parameters": [
          { "$ref": "#/components/parameters/TrackerID" },
          { "name": "format", "in": "query", "required": false, "schema": { "type": "string", "enum": ["sse", "ndjson"] } },
          { "name": "filter", "in": "query", "required": false, "description": "Only records for which this condition holds (docs/rules.md), e.g. comm == \"cat\"; a bad one is a 400 naming its position", "schema": { "type": "string", "minLength": 1, "maxLength": 4096 } }
        ],
        "responses": {
          "200": {
            "description": "One record (or one report) per event or line, fields named by the plugin's schema",
            "content": {
              "text/event-stream": { "schema": { "type": "string" } },
              "application/x-ndjson": { "schema": { "type": "string" } }
            }
          },
          "400": { "$ref": "#/components/responses/BadRequest" },
          "401": { "$ref": "#/components/responses/Unauthorized" },
          "404": { "$ref": "#/components/responses/NotFound" },
          "409": { "$ref": "#/components/responses/Conflict" }
        }
      }
    },
    "/api/v1/alerts": {
      "get": {
        "operationId": "alerts",
        "summary": "Live alerts of the security rules (the config's rules): Server-Sent Events (data: JSON) or JSON lines, from now on",
        "parameters": [
          { "name": "format", "in": "query", "required": false, "schema": { "type": "string", "enum": ["sse", "ndjson"] } }
        ],
        "responses": {
          "200": {
            "description": "One alert per event or line: time, rule, priority, output, tags, tracker, plugin, output_fields",
            "content": {
              "text/event-stream": { "schema": { "type": "string" } },
              "application/x-ndjson": { "schema": { "type": "string" } }
            }
          },
          "400": { "$ref": "#/components/responses/BadRequest" },
          "401": { "$ref": "#/components/responses/Unauthorized" }
        }
      }
    },
    "/metrics": {
      "get": {
        "operationId": "metrics",
        "summary": "Prometheus metrics in the text exposition format 0.0.4 (docs/prometheus.md)",
        "responses": {
          "200": { "description": "Every metric of the server, its trackers and its plugins' label sets", "content": { "text/plain": { "schema": { "type": "string" } } } },
          "401": { "$ref": "#/components/responses/Unauthorized" }
        }
      }
    },
    "/api/v1/reload": {
      "post": {
        "operationId": "reload",
        "summary": "Re-read the config file (as SIGHUP does); a bad config changes nothing",
        "responses": {
          "200": { "description": "What changed", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ReloadSummary" } } } },
          "400": { "$ref": "#/components/responses/BadRequest" },
          "401": { "$ref": "#/components/responses/Unauthorized" },
          "409": { "$ref": "#/components/responses/Conflict" }
        }
      }
    }
  },
  "components": {
    "securitySchemes": {
      "bearer": { "type": "http", "scheme": "bearer", "description": "TCP only: the token in STORE/server.token" }
    },
    "parameters": {
      "PluginName": { "name": "name", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$" }, "example": "opensnoop" },
      "TrackerID": { "name": "id", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,63}$" } }
    },
    "responses": {
      "BadRequest": { "description": "Bad input: the message names what is wrong", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
      "Unauthorized": { "description": "TCP without the right bearer token", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
      "NotFound": { "description": "No such plugin, version or tracker", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
      "Conflict": { "description": "Refused in the current state (a build in use, an id taken, max_trackers reached)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
      "TooLarge": { "description": "The request body is over its limit", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
      "Failed": { "description": "Understood but could not be carried out (the kernel refused, the plugin failed)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
    },
    "schemas": {
      "Error": {
        "type": "object", "required": ["error"], "additionalProperties": false,
        "properties": { "error": { "type": "string", "description": "One line naming what is wrong" } }
      },
      "Health": {
        "type": "object", "required": ["status", "trackers", "uptime_s"], "additionalProperties": false,
        "properties": {
          "status": { "type": "string", "enum": ["ok"] },
          "trackers": { "type": "integer", "minimum": 0 },
          "uptime_s": { "type": "number", "minimum": 0 }
        }
      },
      "Version": {
        "type": "object", "required": ["version", "abi", "api"], "additionalProperties": false,
        "properties": {
          "version": { "type": "string" },
          "abi": { "$ref": "#/components/schemas/ABI" },
          "api": { "type": "string", "enum": ["v1"] }
        }
      },
      "ABI": {
        "type": "object", "required": ["major", "minor"], "additionalProperties": false,
        "properties": { "major": { "type": "integer", "minimum": 0 }, "minor": { "type": "integer", "minimum": 0 } }
      },
      "PluginList": {
        "type": "object", "required": ["plugins", "damaged"], "additionalProperties": false,
        "properties": {
          "plugins": {
            "type": "array",
            "items": {
              "type": "object", "required": ["name", "versions"], "additionalProperties": false,
              "properties": {
                "name": { "type": "string" },
                "versions": { "type": "array", "items": { "$ref": "#/components/schemas/PluginBuild" } }
              }
            }
          },
          "damaged": {
            "type": "array",
            "items": {
              "type": "object", "required": ["path", "reason"], "additionalProperties": false,
              "properties": { "path": { "type": "string" }, "reason": { "type": "string" } }
            }
          }
        }
      },
      "PluginBuild": {
        "type": "object", "required": ["version", "build", "abi", "description", "directory", "in_use_by", "unsigned", "signed_by"], "additionalProperties": false,
        "properties": {
          "version": { "type": "string" },
          "build": { "type": "string", "description": "12 hex digits of the package digest" },
          "abi": { "type": "string", "example": "1.0" },
          "description": { "type": "string" },
          "directory": { "type": "string" },
          "in_use_by": { "type": "array", "items": { "type": "string" }, "description": "Trackers running this build" },
          "unsigned": { "type": "boolean", "description": "Installed with allow_unsigned: no trusted key signed it" },
          "signed_by": { "type": "array", "items": { "$ref": "#/components/schemas/SignedBy" }, "description": "Keys whose signatures were verified at install" }
        }
      },
      "SignedBy": {
        "type": "object", "required": ["key_id", "name", "fingerprint"], "additionalProperties": false,
        "properties": {
          "key_id": { "type": "string", "pattern": "^[0-9a-f]{16}$", "description": "First 16 hex digits of the SHA-256 of the raw Ed25519 public key" },
          "name": { "type": "string" },
          "fingerprint": { "type": "string", "pattern": "^[0-9a-f]{64}$" }
        }
      },
      "Installed": {
        "type": "object", "required": ["installed", "name", "version", "build", "directory", "unsigned", "signed_by"], "additionalProperties": false,
        "properties": {
          "installed": { "type": "boolean", "description": "false: that build was installed already" },
          "name": { "type": "string" },
          "version": { "type": "string" },
          "build": { "type": "string" },
          "directory": { "type": "string" },
          "unsigned": { "type": "boolean", "description": "No trusted key signed it (allow_unsigned=true)" },
          "signed_by": { "type": "array", "items": { "$ref": "#/components/schemas/SignedBy" } }
        }
      },
      "Removed": {
        "type": "object", "required": ["removed"], "additionalProperties": false,
        "properties": { "removed": { "type": "array", "items": { "type": "string" } } }
      },
      "StartRequest": {
        "type": "object", "required": ["plugin"], "additionalProperties": false,
        "example": { "plugin": "opensnoop", "params": { "pid": 1 } },
        "properties": {
          "id": { "type": "string", "nullable": true, "pattern": "^[a-z0-9][a-z0-9_.-]{0,63}$", "description": "Generated (NAME-XXXXXXXX) when absent" },
          "plugin": { "type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}(@.{1,128})?$", "description": "NAME, NAME@VERSION, NAME@^1.2, NAME@~1.2 or NAME@latest" },
          "params": {
            "type": "object", "nullable": true, "maxProperties": 64,
            "description": "Parameter names are [a-z_][a-z0-9_]{0,63}; each value is checked against the plugin's schema. container (a container id, id prefix or name) filters in the kernel by its cgroups",
            "additionalProperties": { "oneOf": [{ "type": "string" }, { "type": "integer" }, { "type": "boolean" }] }
          },
          "filter": { "type": "string", "nullable": true, "minLength": 1, "maxLength": 4096, "description": "Only records for which this condition holds reach the tracker's outputs and streams (docs/rules.md); its exact pid, tid, uid, comm and container terms are applied in the kernel" }
        }
      },
      "SwapRequest": {
        "type": "object", "required": ["version"], "additionalProperties": false,
        "example": { "version": "latest" },
        "properties": { "version": { "type": "string", "description": "1.2.3, ^1.2, ~1.2 or latest" } }
      },
      "Tracker": {
        "type": "object",
        "required": ["id", "plugin", "version", "build", "requirement", "params", "state", "events", "lost", "malformed",
                     "dropped", "streams", "started_at", "last_error", "swaps", "origin", "outputs", "bpf_run_count", "bpf_run_time_ns"],
        "additionalProperties": false,
        "properties": {
          "id": { "type": "string" },
          "plugin": { "type": "string" },
          "version": { "type": "string" },
          "build": { "type": "string" },
          "requirement": { "type": "string", "description": "The plugin reference it was started with" },
          "params": { "type": "object", "additionalProperties": { "oneOf": [{ "type": "string" }, { "type": "integer" }, { "type": "boolean" }] } },
          "state": { "type": "string", "enum": ["running", "failed", "stopped"] },
          "events": { "type": "integer", "minimum": 0 },
          "lost": { "type": "integer", "minimum": 0 },
          "malformed": { "type": "integer", "minimum": 0 },
          "dropped": { "type": "object", "additionalProperties": { "type": "integer", "minimum": 0 }, "description": "Records dropped per subscriber (outputs and streams)" },
          "streams": { "type": "integer", "minimum": 0, "description": "API event streams connected now" },
          "started_at": { "type": "string", "format": "date-time" },
          "last_error": { "type": "string", "nullable": true },
          "swaps": { "type": "integer", "minimum": 0 },
          "origin": { "type": "string", "enum": ["config", "api"] },
          "outputs": { "type": "array", "items": { "type": "string" } },
          "bpf_run_count": { "type": "integer", "minimum": 0, "nullable": true, "description": "Runs of its BPF programs while BPF statistics were on; null when its plugin cannot name its programs (ABI < 1.3)" },
          "bpf_run_time_ns": { "type": "integer", "minimum": 0, "nullable": true, "description": "Nanoseconds the kernel spent in its BPF programs" },
          "filter": { "type": "string", "description": "Its filter, when it has one" },
          "filtered": { "type": "integer", "minimum": 0, "description": "Records its filter kept from every output and stream" }
        }
      },
      "TrackerList": {
        "type": "object", "required": ["trackers"], "additionalProperties": false,
        "properties": { "trackers": { "type": "array", "items": { "$ref": "#/components/schemas/Tracker" } } }
      },
      "Build": {
        "type": "object", "required": ["plugin", "version", "build"], "additionalProperties": false,
        "properties": { "plugin": { "type": "string" }, "version": { "type": "string" }, "build": { "type": "string" } }
      },
      "SwapReport": {
        "type": "object",
        "required": ["tracker", "from", "to", "mode", "cutover_ns", "handed_over", "duplicates_suppressed", "lost_in_swap",
                     "overlap_ms", "duration_ms", "cutover_ms", "carried_maps", "not_carried"],
        "additionalProperties": false,
        "properties": {
          "tracker": { "type": "string" },
          "from": { "$ref": "#/components/schemas/Build" },
          "to": { "$ref": "#/components/schemas/Build" },
          "mode": { "type": "string", "enum": ["cutover", "overlap"] },
          "cutover_ns": { "type": "integer", "minimum": 0 },
          "handed_over": { "type": "integer", "minimum": 0 },
          "duplicates_suppressed": { "type": "integer", "minimum": 0 },
          "lost_in_swap": { "type": "integer", "minimum": 0 },
          "overlap_ms": { "type": "number", "nullable": true },
          "duration_ms": { "type": "number", "minimum": 0, "description": "The whole swap" },
          "cutover_ms": { "type": "number", "minimum": 0, "description": "From the new build attached to the old one detached" },
          "carried_maps": { "type": "array", "items": { "type": "string" } },
          "not_carried": { "type": "array", "items": { "type": "string" } }
        }
      },
      "ReloadSummary": {
        "type": "object", "required": ["started", "stopped", "swapped", "restarted", "unchanged", "failed"], "additionalProperties": false,
        "properties": {
          "started": { "type": "array", "items": { "type": "string" } },
          "stopped": { "type": "array", "items": { "type": "string" } },
          "swapped": { "type": "array", "items": { "type": "string" } },
          "restarted": { "type": "array", "items": { "type": "string" } },
          "unchanged": { "type": "array", "items": { "type": "string" } },
          "failed": {
            "type": "array",
            "items": {
              "type": "object", "required": ["id", "error"], "additionalProperties": false,
              "properties": { "id": { "type": "string" }, "error": { "type": "string" } }
            }
          }
        }
      }
    }
  }
}
"""#
}
