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
  fakeTokenCount,
  startFakeAnthropicServer,
  type FakeAnthropicFault,
  type FakeAnthropicMessage,
  type FakeAnthropicReply,
  type FakeAnthropicRequest,
  type FakeAnthropicRequestBody,
  type FakeAnthropicRespond,
  type FakeAnthropicServer,
  type FakeAnthropicServerOptions,
  type FakeAnthropicUsage,
  type FakeToolUse,
} from './fake-anthropic-server.js';
export {
  decodeTraceRequest,
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
  type ReceivedValue,
} from './otlp-receiver.js';
