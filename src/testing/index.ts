export {
  startFakeOpenAIServer,
  toolLoopScript,
  type FakeChatRequest,
  type FakeCompletion,
  type FakeFault,
  type FakeOpenAIServer,
  type FakeOpenAIServerOptions,
  type FakeReply,
  type FakeRespond,
} from './fake-openai-server.js';
export {
  decodeTraceRequest,
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
  type ReceivedValue,
} from './otlp-receiver.js';
