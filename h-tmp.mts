import { startHaraka } from './test/helpers/haraka.ts';
import { createFakeMx } from './src/adapters/smtp-server.ts';
import { Interceptor } from './src/index.ts';
import { ErrorsClient } from './src/client/index.ts';
import nodemailer from 'nodemailer';
const sink = await createFakeMx({ interceptor: new Interceptor() });
const h = await startHaraka({ 'defer.test': `127.0.0.1:${sink.port}`, 'sender.test': `127.0.0.1:${sink.port}` });
try {
const api = new ErrorsClient({ baseUrl: `http://127.0.0.1:${h.httpPort}` });
await api.add({ domain: 'defer.test', code: 451, extended: '4.7.1', description: 'Try again later' });
await nodemailer.createTransport({ host: '127.0.0.1', port: h.smtpPort, secure: false, ignoreTLS: true }).sendMail({ from: 'app@sender.test', to: ['a@defer.test'], subject: 'x', text: 'y' });
await new Promise(r => setTimeout(r, 2000));
} catch (e) { console.log(e) }
console.log(h.log().split('\n').slice(-40).join('\n'));
console.log(JSON.stringify(h.reports));
await h.stop(); await sink.close();
