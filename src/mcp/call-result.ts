import type { CallToolResult } from './mcp-connection.js';

/**
 * What a tool call returns to the run: the structured content when the server sent some, else
 * the text of its content (a single text part as is; other parts described in brackets).
 *
 * ```ts
 * resultValue({ content: [{ type: 'text', text: 'shipped' }] }) // 'shipped'
 * ```
 */
export function resultValue(result: CallToolResult): unknown {
  if (result.structuredContent !== undefined) return result.structuredContent;
  const parts = result.content;
  if (parts.length === 1 && parts[0]?.type === 'text') return parts[0].text;
  return resultText(result);
}

/** Every content part as text, one per line. */
export function resultText(result: CallToolResult): string {
  return result.content
    .map((part) => {
      switch (part.type) {
        case 'text':
          return part.text;
        case 'image':
        case 'audio':
          return `[${part.type} ${part.mimeType}, ${part.data.length} base64 characters]`;
        case 'resource':
          return 'text' in part.resource ? part.resource.text : `[resource ${part.resource.uri}]`;
        case 'resource_link':
          return `[resource ${part.uri}]`;
        default:
          return '';
      }
    })
    .join('\n');
}
