import Hummingbird
import NIOCore

/// A request's context in the gateway: Hummingbird's, and the event loop of its connection.
struct GatewayContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let eventLoop: any EventLoop

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        eventLoop = source.channel.eventLoop
    }
}
