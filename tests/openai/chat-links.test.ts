import { expect, test } from '@jest/globals';
import { BlockError, createOpenAiClient, ERROR_KINDS } from '../../index.js';
import { OPENAI_KEY, useEmulator } from '../helpers.js';

// Aggregators that serve Flux through chat completions answer with text holding the image links:
// the client hands on the links a host can fetch, and quotes the text when there are none.

const local = useEmulator();
const chatAnswers = (content: string) =>
  local.emulator.inject({
    route: 'chat',
    answer: { status: 200, body: { choices: [{ message: { role: 'assistant', content } }] } },
  });
const chat = () =>
  createOpenAiClient({ apiKey: OPENAI_KEY, baseUrl: local.emulator.url }).chat({ model: 'flux-dev', content: 'A fox' });

test('bare links lose all their trailing punctuation; links that are not http(s) or data:image are dropped', async () => {
  chatAnswers('Here it is: https://img.example/fox.png... Or this one?! https://img.example/fox-2.webp?!');
  expect(await chat()).toEqual([{ url: 'https://img.example/fox.png' }, { url: 'https://img.example/fox-2.webp' }]);
  chatAnswers('![local](file:///https://img.example/secret.png) ![fox](https://img.example/fox.png)');
  expect(await chat()).toEqual([{ url: 'https://img.example/fox.png' }]);
});

test('no image link: the text is quoted on one line, trimmed, and cut with … only past 200 characters', async () => {
  const noImage = async (content: string, quoted: string) => {
    chatAnswers(content);
    const error = await chat().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlockError);
    expect((error as BlockError).message).toBe(
      `The chat answer holds no image link (markdown image or URL): "${quoted}". ${ERROR_KINDS.no_image.advice}`,
    );
  };
  await noImage('\n  I cannot draw   that.\n\n  Try a fox?  \n', 'I cannot draw that. Try a fox?');
  const exactly200 = 'f'.repeat(200);
  await noImage(exactly200, exactly200);
  await noImage(`${exactly200}x`, `${exactly200}…`);
});
