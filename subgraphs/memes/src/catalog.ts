import type { TemplateArt } from './images/render';

/**
 * The built-in templates and the caption fragments the seed composes memes
 * from. Every template draws its own art from shapes: no third-party images,
 * no emoji that render differently on every platform.
 */
export interface CatalogTemplate {
  name: string;
  art: TemplateArt;
}

const eye = (cx: number, cy: number, r = 14): TemplateArt['shapes'] => [
  { kind: 'circle', cx, cy, r, fill: '#ffffff', stroke: '#1b1b1b', strokeWidth: 4 },
  { kind: 'circle', cx, cy: cy + 2, r: r / 2.4, fill: '#1b1b1b' },
];

export const TEMPLATE_CATALOG: readonly CatalogTemplate[] = [
  {
    name: 'Galaxy Brain',
    art: {
      background: { from: '#1a0b3d', to: '#05010f', angle: 90 },
      shapes: [
        { kind: 'circle', cx: 300, cy: 300, r: 170, fill: '#6b2bd9', opacity: 0.25 },
        { kind: 'circle', cx: 300, cy: 300, r: 120, fill: '#8f5cff', opacity: 0.35 },
        { kind: 'ellipse', cx: 300, cy: 290, rx: 95, ry: 75, fill: '#f2a7ff', stroke: '#ffffff', strokeWidth: 4 },
        { kind: 'path', d: 'M230 290 Q255 250 280 290 T330 290 T375 285', stroke: '#9b2fb8', strokeWidth: 6 },
        { kind: 'path', d: 'M240 320 Q270 300 300 325 T360 320', stroke: '#9b2fb8', strokeWidth: 6 },
        { kind: 'circle', cx: 120, cy: 140, r: 3, fill: '#ffffff' },
        { kind: 'circle', cx: 470, cy: 110, r: 4, fill: '#ffffff' },
        { kind: 'circle', cx: 520, cy: 470, r: 3, fill: '#ffffff' },
        { kind: 'circle', cx: 90, cy: 440, r: 4, fill: '#ffffff' },
      ],
    },
  },
  {
    name: 'This Is Fine',
    art: {
      background: { from: '#ffb347', to: '#c0392b', angle: 90 },
      shapes: [
        { kind: 'polygon', points: [[40, 600], [90, 380], [140, 600]], fill: '#ff6b1a' },
        { kind: 'polygon', points: [[460, 600], [520, 360], [570, 600]], fill: '#ff6b1a' },
        { kind: 'polygon', points: [[60, 600], [95, 450], [125, 600]], fill: '#ffd23f' },
        { kind: 'polygon', points: [[480, 600], [520, 440], [550, 600]], fill: '#ffd23f' },
        { kind: 'rect', x: 180, y: 380, width: 240, height: 20, fill: '#6d3b12' },
        { kind: 'rect', x: 270, y: 340, width: 28, height: 40, rx: 4, fill: '#ffffff' },
        { kind: 'circle', cx: 370, cy: 290, r: 60, fill: '#f5c542', stroke: '#4a3000', strokeWidth: 4 },
        { kind: 'polygon', points: [[335, 245], [345, 215], [360, 240]], fill: '#4a3000' },
        ...eye(352, 285, 9),
        ...eye(392, 285, 9),
        { kind: 'path', d: 'M350 315 Q372 330 395 315', stroke: '#4a3000', strokeWidth: 4 },
      ],
    },
  },
  {
    name: 'Two Buttons',
    art: {
      background: { from: '#d9dde3', to: '#9aa3ad', angle: 90 },
      shapes: [
        { kind: 'rect', x: 110, y: 210, width: 380, height: 180, rx: 18, fill: '#3d4650', stroke: '#20262c', strokeWidth: 6 },
        { kind: 'circle', cx: 210, cy: 300, r: 55, fill: '#e63946', stroke: '#7a1019', strokeWidth: 8 },
        { kind: 'circle', cx: 390, cy: 300, r: 55, fill: '#e63946', stroke: '#7a1019', strokeWidth: 8 },
        { kind: 'ellipse', cx: 195, cy: 282, rx: 18, ry: 10, fill: '#ffffff', opacity: 0.5 },
        { kind: 'ellipse', cx: 375, cy: 282, rx: 18, ry: 10, fill: '#ffffff', opacity: 0.5 },
        { kind: 'path', d: 'M300 400 Q290 440 300 470', stroke: '#20262c', strokeWidth: 5 },
      ],
    },
  },
  {
    name: 'Stonks',
    art: {
      background: { from: '#0b1d3a', to: '#020812', angle: 90 },
      shapes: [
        { kind: 'line', x1: 60, y1: 520, x2: 560, y2: 520, stroke: '#2f4a70', strokeWidth: 3 },
        { kind: 'line', x1: 60, y1: 420, x2: 560, y2: 420, stroke: '#1c3150', strokeWidth: 2 },
        { kind: 'line', x1: 60, y1: 320, x2: 560, y2: 320, stroke: '#1c3150', strokeWidth: 2 },
        { kind: 'line', x1: 60, y1: 220, x2: 560, y2: 220, stroke: '#1c3150', strokeWidth: 2 },
        { kind: 'line', x1: 60, y1: 120, x2: 60, y2: 520, stroke: '#2f4a70', strokeWidth: 3 },
        { kind: 'path', d: 'M70 480 L170 430 L240 455 L330 330 L400 360 L520 170', stroke: '#2ecc71', strokeWidth: 12 },
        { kind: 'polygon', points: [[540, 140], [490, 165], [530, 200]], fill: '#2ecc71' },
      ],
    },
  },
  {
    name: 'Distracted Glance',
    art: {
      background: { from: '#8fd3ff', to: '#cfeec1', angle: 90 },
      shapes: [
        { kind: 'rect', x: 0, y: 430, width: 600, height: 170, fill: '#79b35a' },
        { kind: 'circle', cx: 130, cy: 250, r: 40, fill: '#f4c7a1' },
        { kind: 'rect', x: 95, y: 290, width: 70, height: 150, rx: 20, fill: '#e84a5f' },
        { kind: 'circle', cx: 330, cy: 240, r: 40, fill: '#d9a27a' },
        { kind: 'rect', x: 295, y: 280, width: 70, height: 160, rx: 20, fill: '#3a6ea5' },
        { kind: 'circle', cx: 470, cy: 250, r: 40, fill: '#f4c7a1' },
        { kind: 'rect', x: 435, y: 290, width: 70, height: 150, rx: 20, fill: '#2a9d8f' },
        { kind: 'path', d: 'M300 230 Q250 200 190 235', stroke: '#1b1b1b', strokeWidth: 4, opacity: 0.6 },
      ],
    },
  },
  {
    name: 'Surprised Blob',
    art: {
      background: { from: '#fff275', to: '#ff8c42', angle: 45 },
      shapes: [
        { kind: 'ellipse', cx: 300, cy: 310, rx: 190, ry: 170, fill: '#ffd166', stroke: '#7a4a00', strokeWidth: 6 },
        ...eye(235, 270, 32),
        ...eye(365, 270, 32),
        { kind: 'ellipse', cx: 300, cy: 380, rx: 34, ry: 46, fill: '#5a1a00' },
        { kind: 'path', d: 'M200 215 Q235 190 265 210', stroke: '#7a4a00', strokeWidth: 6 },
        { kind: 'path', d: 'M335 210 Q365 190 400 215', stroke: '#7a4a00', strokeWidth: 6 },
      ],
    },
  },
  {
    name: 'Nope Yep Panels',
    art: {
      background: { from: '#fbe9d0', to: '#f6c28b', angle: 0 },
      shapes: [
        { kind: 'line', x1: 0, y1: 300, x2: 600, y2: 300, stroke: '#3d2c1e', strokeWidth: 6 },
        { kind: 'line', x1: 300, y1: 0, x2: 300, y2: 600, stroke: '#3d2c1e', strokeWidth: 6 },
        { kind: 'circle', cx: 150, cy: 160, r: 60, fill: '#c68b59' },
        { kind: 'rect', x: 70, y: 150, width: 70, height: 26, rx: 12, rotate: -30, fill: '#e76f51' },
        { kind: 'circle', cx: 150, cy: 440, r: 60, fill: '#c68b59' },
        { kind: 'path', d: 'M120 450 Q150 480 185 450', stroke: '#3d2c1e', strokeWidth: 5 },
        { kind: 'path', d: 'M400 130 L500 200 M500 130 L400 200', stroke: '#c1121f', strokeWidth: 14 },
        { kind: 'path', d: 'M395 440 L430 480 L505 395', stroke: '#2b9348', strokeWidth: 14 },
      ],
    },
  },
  {
    name: 'Expanding Mind',
    art: {
      background: { from: '#101820', to: '#1f3a5a', angle: 0 },
      shapes: [
        { kind: 'line', x1: 0, y1: 150, x2: 600, y2: 150, stroke: '#0a0f14', strokeWidth: 5 },
        { kind: 'line', x1: 0, y1: 300, x2: 600, y2: 300, stroke: '#0a0f14', strokeWidth: 5 },
        { kind: 'line', x1: 0, y1: 450, x2: 600, y2: 450, stroke: '#0a0f14', strokeWidth: 5 },
        { kind: 'circle', cx: 450, cy: 75, r: 14, fill: '#5d7b99' },
        { kind: 'circle', cx: 450, cy: 225, r: 28, fill: '#7fb3e0', opacity: 0.8 },
        { kind: 'circle', cx: 450, cy: 375, r: 48, fill: '#b3e5ff', opacity: 0.85 },
        { kind: 'circle', cx: 450, cy: 525, r: 70, fill: '#ffffff', opacity: 0.9 },
        { kind: 'circle', cx: 450, cy: 525, r: 90, fill: '#fff3b0', opacity: 0.35 },
      ],
    },
  },
  {
    name: 'Personal Rain Cloud',
    art: {
      background: { from: '#a3b1c2', to: '#5b6b7d', angle: 90 },
      shapes: [
        { kind: 'ellipse', cx: 300, cy: 230, rx: 130, ry: 55, fill: '#e9edf2' },
        { kind: 'circle', cx: 240, cy: 205, r: 55, fill: '#e9edf2' },
        { kind: 'circle', cx: 330, cy: 190, r: 70, fill: '#e9edf2' },
        { kind: 'line', x1: 230, y1: 300, x2: 215, y2: 345, stroke: '#3a86ff', strokeWidth: 5 },
        { kind: 'line', x1: 290, y1: 300, x2: 275, y2: 345, stroke: '#3a86ff', strokeWidth: 5 },
        { kind: 'line', x1: 350, y1: 300, x2: 335, y2: 345, stroke: '#3a86ff', strokeWidth: 5 },
        { kind: 'circle', cx: 300, cy: 400, r: 30, fill: '#2b2d42' },
        { kind: 'rect', x: 275, y: 430, width: 50, height: 90, rx: 14, fill: '#2b2d42' },
      ],
    },
  },
  {
    name: 'Sunset Shrug',
    art: {
      background: { from: '#ff5e62', to: '#ffc371', angle: 90 },
      shapes: [
        { kind: 'circle', cx: 300, cy: 380, r: 110, fill: '#fff1a8', opacity: 0.9 },
        { kind: 'rect', x: 0, y: 420, width: 600, height: 180, fill: '#5b2a86' },
        { kind: 'rect', x: 0, y: 440, width: 600, height: 8, fill: '#ff9a8b', opacity: 0.6 },
        { kind: 'rect', x: 0, y: 470, width: 600, height: 6, fill: '#ff9a8b', opacity: 0.4 },
        { kind: 'circle', cx: 300, cy: 330, r: 30, fill: '#2d1b3d' },
        { kind: 'polygon', points: [[260, 420], [270, 365], [330, 365], [340, 420]], fill: '#2d1b3d' },
        { kind: 'path', d: 'M270 375 L225 345 L210 320 M330 375 L375 345 L390 320', stroke: '#2d1b3d', strokeWidth: 12 },
      ],
    },
  },
  {
    name: 'Pixel Cat',
    art: {
      background: { from: '#c3f0ca', to: '#8ecae6', angle: 135 },
      shapes: [
        { kind: 'polygon', points: [[200, 230], [230, 150], [270, 220]], fill: '#f4a261' },
        { kind: 'polygon', points: [[330, 220], [370, 150], [400, 230]], fill: '#f4a261' },
        { kind: 'rect', x: 190, y: 210, width: 220, height: 180, rx: 10, fill: '#f4a261' },
        { kind: 'rect', x: 235, y: 270, width: 30, height: 30, fill: '#264653' },
        { kind: 'rect', x: 335, y: 270, width: 30, height: 30, fill: '#264653' },
        { kind: 'rect', x: 290, y: 320, width: 20, height: 14, fill: '#e76f51' },
        { kind: 'line', x1: 150, y1: 330, x2: 250, y2: 340, stroke: '#264653', strokeWidth: 3 },
        { kind: 'line', x1: 350, y1: 340, x2: 450, y2: 330, stroke: '#264653', strokeWidth: 3 },
      ],
    },
  },
  {
    name: 'Loading Forever',
    art: {
      background: { from: '#2b2b2b', to: '#0d0d0d', angle: 90 },
      shapes: [
        { kind: 'rect', x: 100, y: 280, width: 400, height: 44, rx: 22, fill: '#1f1f1f', stroke: '#6c6c6c', strokeWidth: 4 },
        { kind: 'rect', x: 106, y: 286, width: 380, height: 32, rx: 16, fill: '#00d26a' },
        { kind: 'circle', cx: 300, cy: 380, r: 6, fill: '#9a9a9a' },
        { kind: 'circle', cx: 325, cy: 380, r: 6, fill: '#6a6a6a' },
        { kind: 'circle', cx: 275, cy: 380, r: 6, fill: '#cacaca' },
      ],
    },
  },
];

/** Fragments the seed composes titles from: a subject and a twist. */
export const TITLE_SUBJECTS: readonly string[] = [
  'Monday', 'Deploy', 'Cat', 'Coffee', 'Standup', 'Wi-Fi', 'Printer', 'Group chat', 'Gym', 'Pizza',
  'Inbox', 'Weekend', 'Dentist', 'Houseplant', 'Bug', 'Meeting', 'Roommate', 'Alarm clock', 'Diet', 'Laundry',
  'Spreadsheet', 'Password', 'Toddler', 'Landlord', 'Algorithm',
];

export const TITLE_TWISTS: readonly string[] = [
  'energy', 'mood', 'logic', 'vibes', 'reality', 'expectations', 'moment', 'struggle', 'plot twist', 'speedrun',
  'final boss', 'side quest', 'character arc', 'lore', 'masterclass', 'origin story', 'hot take', 'era',
];

export const TOP_CAPTIONS: readonly string[] = [
  'When the code works on the first try',
  'Me explaining my weekend plans',
  'Nobody:',
  'When you open the fridge for the fifth time',
  'My brain at 3 AM',
  'When someone says "quick call"',
  'Me after one cup of coffee',
  'When the Wi-Fi drops during a meeting',
  'Trying to adult like',
  'When the cat knocks something off the table',
  'Me pretending to understand the assignment',
  'When it is finally Friday',
  'When you hear your name in a meeting',
  'Me reading the terms and conditions',
  'When the group chat goes silent',
  'When you fix one bug',
  'The plan at 9 AM',
  'When the pizza arrives',
  'Me checking the fridge again',
  'When the alarm goes off',
  'Houseplants when I forget to water them',
  'When you say "one more episode"',
  'My bank account after the weekend',
  'When you finally find the missing semicolon',
  'Me at the gym for the first time in months',
  'When the printer says it is out of paper',
  'When the password needs one more symbol',
  'When the spreadsheet has 10,000 rows',
  'When someone moves your desk stuff',
  'When the bus is early for once',
  'Explaining memes to my parents',
  'When the dog hears the treat bag',
  'When your playlist hits just right',
  'When you remember you left the oven on',
  'Me in every group project',
  'When the update needs a restart',
  'My to-do list on Monday',
  'When you open 47 browser tabs',
  'When the delivery says "arriving today"',
  'Me at the start of a new notebook',
];

export const BOTTOM_CAPTIONS: readonly string[] = [
  'And nobody knows why',
  'Still waiting',
  'It is fine. Everything is fine.',
  'Task failed successfully',
  'Ten out of ten, would do again',
  'Big mood',
  'Not today, Satan',
  'Instant regret',
  'Main character energy',
  'This is my life now',
  'I have no idea what I am doing',
  'Worked on my machine',
  'Send help',
  'Absolute legend',
  'Why am I like this',
  'Zero regrets',
  'Nailed it',
  'Loading... please wait',
  'It was at this moment he knew',
  'Three more bugs appear',
  'Me: unbothered',
  'Tomorrow is another day',
  'Snack time is always',
  'Peak performance',
  'Do not talk to me or my code again',
  'We ride at dawn',
  'Confused screaming',
  'Living the dream',
  'Could not be me',
  'Certified classic',
  'The audacity',
  'Mission accomplished',
  'Error 404: motivation not found',
  'Sleep is for the weak',
  'My body is ready',
  'Plot twist: it was Monday',
  'Emotional damage',
  'Understandable, have a nice day',
  'Just vibing',
  'Outstanding move',
];

/** Caption fragments for the catalog's AI memes: the spicier ones Memes AI viewers get. */
export const AI_TOP_CAPTIONS: readonly string[] = [
  'Your browser history called',
  'When the AI writes better jokes than you',
  'Me reading my own code from last week',
  'When your horoscope roasts you personally',
  'The robots have seen your search history',
  'When autocorrect chooses violence',
  'My camera roll is a crime scene',
  'When the smart fridge judges your snacks',
  'Your ex when they see you thriving',
  'When the group chat screenshots leak',
  'The algorithm knows what you did',
  'When the meeting could have been an email',
];

export const AI_BOTTOM_CAPTIONS: readonly string[] = [
  'It wants its dignity back',
  'And I took that personally',
  'No survivors',
  'Absolutely unhinged',
  'Delete this immediately',
  'Chaos mode: enabled',
  'The roast was well done',
  'Witness protection, please',
  'Spicy, but true',
  'I feel attacked',
  'Maximum savagery',
  'Rated R for Really Rude',
];

/** Lower-case tags, `[a-z0-9-]`, as createMeme accepts them. */
export const TAGS: readonly string[] = [
  'cats', 'dogs', 'work', 'coding', 'monday', 'coffee', 'weekend', 'school', 'gaming', 'food',
  'gym', 'music', 'sleep', 'money', 'tech', 'wholesome', 'relatable', 'science', 'space', 'pizza',
  'mood', 'friday', 'internet', 'movies', 'sports', 'travel', 'plants', 'dev-life', 'adulting', 'shower-thoughts',
];
