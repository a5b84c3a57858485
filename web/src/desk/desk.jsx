// desk.jsx -- entry point of the agent desk (bundled by web/build.mjs).
import './desk.css';
import { render } from 'preact';
import { App } from './app.jsx';

render(<App />, document.getElementById('app'));
