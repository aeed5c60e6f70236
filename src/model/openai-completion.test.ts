import { describe, expect, it } from 'vitest';
import { ModelCallError } from './model-adapter.js';
import { readCompletion } from './openai-completion.js';

const call = { id: 'call_1', function: { name: 'lookup', arguments: '{"id":"A-1"}' } };
const valid = {
  id: 'chatcmpl-1',
  model: 'gpt-4.1-mini',
  choices: [{ message: { content: null, tool_calls: [call] }, finish_reason: 'tool_calls' }],
  usage: {
    prompt_tokens: 12,
    completion_tokens: 3,
    prompt_tokens_details: { cached_tokens: 4 },
    completion_tokens_details: null,
  },
};

function problemOf(value: unknown): string {
  try {
    readCompletion(value);
  } catch (error) {
    if (ModelCallError.isInstance(error) && error.type === 'malformed_response')
      return error.message.replace('the response is not a chat completion: ', '');
    throw error;
  }
  return 'accepted';
}

describe('readCompletion', () => {
  it('takes a completion as OpenAI and compatible servers send it', () => {
    expect(readCompletion(valid)).toBe(valid);
    // Nullable and missing fields, arguments as an object, text and a refusal, extra fields.
    for (const completion of [
      { choices: [{ message: {} }] },
      { id: null, model: null, choices: [{ message: { content: 'hi' }, finish_reason: null }] },
      { choices: [{ message: { refusal: 'no', tool_calls: null } }], usage: null, extra: 1 },
      {
        choices: [{ message: { tool_calls: [{ function: { name: 'f', arguments: { a: 1 } } }] } }],
      },
      {
        choices: [{ message: { content: 'x' } }],
        usage: { prompt_tokens: 1, completion_tokens: 1, prompt_tokens_details: {} },
      },
    ])
      expect(problemOf(completion)).toBe('accepted');
  });

  it('names the first field that is not what a completion holds', () => {
    const choice = valid.choices[0];
    expect(
      [
        'hello',
        null,
        [],
        { id: 'c' },
        { choices: {} },
        { choices: [] },
        { choices: [null] },
        { choices: [{}] },
        { choices: [{ message: { content: 7 } }] },
        { choices: [{ message: { refusal: [] } }] },
        { choices: [{ message: {}, finish_reason: 1 }] },
        { choices: [{ message: { tool_calls: {} } }] },
        { choices: [{ message: { tool_calls: [{ id: 'c' }] } }] },
        { choices: [{ message: { tool_calls: [{ id: 3, function: call.function }] } }] },
        { choices: [{ message: { tool_calls: [{ function: { arguments: '{}' } }] } }] },
        { choices: [{ message: { tool_calls: [{ function: { name: 'f', arguments: 1 } }] } }] },
        { choices: [{ message: { tool_calls: [{ function: { name: 'f', arguments: [] } }] } }] },
        { id: 5, choices: [choice] },
        { model: {}, choices: [choice] },
        { choices: [choice], usage: 'lots' },
        { choices: [choice], usage: { prompt_tokens: '1', completion_tokens: 1 } },
        { choices: [choice], usage: { prompt_tokens: 1 } },
        // A count that would lower the run's spend, or is no count at all.
        { choices: [choice], usage: { prompt_tokens: -20_000, completion_tokens: 1 } },
        { choices: [choice], usage: { prompt_tokens: 1, completion_tokens: 0.5 } },
        { choices: [choice], usage: { prompt_tokens: 1, completion_tokens: Infinity } },
        {
          choices: [choice],
          usage: { ...valid.usage, prompt_tokens_details: { cached_tokens: '4' } },
        },
        {
          choices: [choice],
          usage: { ...valid.usage, completion_tokens_details: [] },
        },
      ].map(problemOf),
    ).toEqual([
      'expected an object',
      'expected an object',
      'expected an object',
      'choices: expected an array',
      'choices: expected an array',
      'choices: expected at least one choice',
      'choices[0]: expected an object',
      'choices[0].message: expected an object',
      'choices[0].message.content: expected a string',
      'choices[0].message.refusal: expected a string',
      'choices[0].finish_reason: expected a string',
      'choices[0].message.tool_calls: expected an array',
      'choices[0].message.tool_calls[0].function: expected an object',
      'choices[0].message.tool_calls[0].id: expected a string',
      'choices[0].message.tool_calls[0].function.name: expected a string',
      'choices[0].message.tool_calls[0].function.arguments: expected an object',
      'choices[0].message.tool_calls[0].function.arguments: expected an object',
      'id: expected a string',
      'model: expected a string',
      'usage: expected an object',
      'usage.prompt_tokens: expected a whole number >= 0',
      'usage.completion_tokens: expected a whole number >= 0',
      'usage.prompt_tokens: expected a whole number >= 0',
      'usage.completion_tokens: expected a whole number >= 0',
      'usage.completion_tokens: expected a whole number >= 0',
      'usage.prompt_tokens_details.cached_tokens: expected a whole number >= 0',
      'usage.completion_tokens_details: expected an object',
    ]);
  });

  it('fails as a retryable malformed response from a 200', () => {
    try {
      readCompletion({ choices: [] });
      expect.unreachable();
    } catch (error) {
      expect(ModelCallError.isInstance(error) && [error.retryable, error.statusCode]).toEqual([
        true,
        200,
      ]);
    }
  });
});
