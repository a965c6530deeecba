import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes

/// Early refusals end their connection: a 401, 403 or 413 is usually sent before the request's
/// body has been read (the API key is checked first; a body past `--max-body-bytes` is cut off),
/// and Hummingbird would otherwise read and discard the rest of that body, however long, to keep
/// the connection open for another request. This middleware marks those answers
/// `Connection: close`; `CloseAfterResponseHandler` then ends the connection once they are sent.
struct CloseEarlyRefusals<Context: RequestContext>: RouterMiddleware {
    static var statuses: Set<HTTPResponse.Status> { [.unauthorized, .forbidden, .contentTooLarge] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if Self.statuses.contains(response.status) { response.headers[.connection] = "close" }
        return response
    }
}

/// A channel handler (after HTTP/1 decoding) that ends the connection after a response that
/// says `Connection: close`: once the response's last part is flushed, the sending side is shut
/// (the client reads the whole answer, then end of stream) and the connection is closed after
/// `grace`, whatever the client still sends. Without it such a response would only be a hint.
final class CloseAfterResponseHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// How long the receiving side stays open after the answer, so that a client still sending
    /// its body gets the answer rather than a connection reset.
    let grace: TimeAmount
    private var closing = false

    init(grace: TimeAmount = .seconds(2)) { self.grace = grace }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            if head.status.code >= 200, head.headerFields[.connection]?.lowercased() == "close" { closing = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            guard closing else { return context.write(data, promise: promise) }
            closing = false
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.cascade(to: promise)
            context.writeAndFlush(data, promise: written)
            let channel = context.channel, grace = grace
            written.futureResult.whenComplete { _ in
                channel.close(mode: .output, promise: nil)
                channel.eventLoop.scheduleTask(in: grace) { channel.close(promise: nil) }
            }
        }
    }
}
