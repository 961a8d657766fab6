// Runs with `npm run example`. Forces results for a few deliveries and prints them.
import { Interceptor } from 'smtp-intercept';

const ic = new Interceptor();

// The four example rules of MailerQ's GET /v1/errors response.
await ic.add({ mta: '1.2.3.4', ip: '123.2.3.4', code: 500 });
await ic.add({ mta: '1.2.3.4', domain: 'gmail.com', code: 421, description: 'forced deferring' });
await ic.add({ domain: 'hotmail.com', cluster: true, code: 521, extended: '5.2.1' });
await ic.add({ pool: 'shared-pool-1', domain: 'yaho0.com', code: '553', description: 'invalid mailbox' });
// Fail-twice-then-pass: the rule removes itself after two forced results.
await ic.add({ tag: 'Campaign1', code: 451, extended: '4.7.1', description: 'try again later', times: 2 });

const attempts = [
  { mta: '1.2.3.4', recipient: 'bob@gmail.com' },
  { mta: '1.2.3.4', ip: '123.2.3.4', recipient: 'bob@example.org' },
  { pool: 'any', recipient: 'alice@Hotmail.com' },
  { pool: 'shared-pool-1', recipient: 'carol@yaho0.com' },
  { mta: '5.6.7.8', recipient: 'bob@gmail.com' },
  ...[1, 2, 3].map(() => ({ recipient: 'dave@example.net', tags: ['Campaign1'] })),
];
for (const attempt of attempts) {
  const result = ic.check(attempt);
  console.log(JSON.stringify(attempt), '->', result ? `${result.outcome}: ${result.reply}` : 'deliver normally');
}
console.log(JSON.stringify(ic.list(), null, 2));
await ic.close();
