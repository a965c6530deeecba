import ArgumentParser

@main
struct Kestrel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kestrel",
        abstract: "Vision-language retrieval: embed, index, search and label images with CLIP models.",
        subcommands: [TokenizeCommand.self, EmbedCommand.self, InfoCommand.self, IndexCommand.self, SearchCommand.self, LabelCommand.self])
}
