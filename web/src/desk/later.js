// later.js -- the screens other than the inbox, as one chunk of the desk's
// script (screens.js imports it when one is first needed; web/build.mjs
// splits it off).  One chunk rather than one per screen: the first view
// then needs the entry and a single chunk of shared code, two requests.
export { Account } from './account.jsx';
export { Dashboard } from './dashboard.jsx';
export { Ticket } from './ticket.jsx';
