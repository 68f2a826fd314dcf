// EunomiaHost is what a front end imports: the layers below, re-exported, plus the one-shot run.
@_exported import EunomiaOutput
@_exported import EunomiaPackages
@_exported import EunomiaRecords
@_exported import EunomiaRuntime
@_exported import EunomiaSchema
@_exported import EunomiaContainers
@_exported import EunomiaRules
