// The studio page: React Flow's own styles, ours, and the app.
import { createRoot } from 'react-dom/client';
import '@xyflow/react/dist/style.css';
import './studio.css';
import { App } from './App.js';

createRoot(document.getElementById('root')!).render(<App />);
