import type {
  IAuthenticateGeneric,
  ICredentialTestRequest,
  ICredentialType,
  Icon,
  INodeProperties,
} from 'n8n-workflow';

/**
 * The Replicate API token for the Flux Blocks node, sent as `Authorization: Bearer <token>`, and
 * the API's base URL (default https://api.replicate.com/v1; a replicate-flux-emulator's
 * `http://127.0.0.1:<port>/v1` for offline runs). n8n checks it with GET {baseUrl}/account.
 */
export class FluxBlocksApi implements ICredentialType {
  name = 'fluxBlocksApi';

  displayName = 'Flux Blocks (Replicate) API';

  icon: Icon = {
    light: 'file:../nodes/FluxBlocks/fluxBlocks.svg',
    dark: 'file:../nodes/FluxBlocks/fluxBlocks.dark.svg',
  };

  documentationUrl = 'https://replicate.com/account/api-tokens';

  properties: INodeProperties[] = [
    {
      displayName: 'API Token',
      name: 'apiToken',
      type: 'string',
      typeOptions: { password: true },
      default: '',
      required: true,
      description: 'A Replicate API token (r8_...) from replicate.com/account/api-tokens',
    },
    {
      displayName: 'Base URL',
      name: 'baseUrl',
      type: 'string',
      default: 'https://api.replicate.com/v1',
      description:
        "The Replicate API's base URL; a replicate-flux-emulator's http://127.0.0.1:PORT/v1 for offline runs",
    },
  ];

  authenticate: IAuthenticateGeneric = {
    type: 'generic',
    properties: { headers: { Authorization: '=Bearer {{$credentials.apiToken}}' } },
  };

  test: ICredentialTestRequest = {
    request: { baseURL: '={{$credentials.baseUrl}}', url: '/account' },
  };
}
