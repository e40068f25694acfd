// The conformance corpus for the tokenizer: generated here, deterministic, one named case each.
// Used by tokens.test.mjs (ids against the npm `tiktoken` package) and by bench/tokens_bench.mjs.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

// A small deterministic generator (xorshift32), so a failure names a case that can be rebuilt.
function random(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

function pick(next, list, count) {
  let out = '';
  for (let i = 0; i < count; i++) out += list[next() % list.length];
  return out;
}

// Every text file under tests/fixtures (all the languages the indexer reads).
export function fixtureCases(fixturesDir) {
  const cases = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const text = readFileSync(path, 'utf8');
        if (!text.includes('\u0000')) cases.push([`fixture ${relative(fixturesDir, path)}`, text]);
      }
    }
  };
  walk(fixturesDir);
  return cases;
}

const prose = {
  english: "It's the tokenizer's job, isn't it? They'd say we'll see; you're right, I'm sure they've done it. Don't panic!",
  german: 'Größenverhältnisse der Straßenbahn: Überall fährt sie pünktlich, außer bei Glätte.',
  french: "L'été dernier, j'ai vu où naît la forêt — « c'est déjà ça », disait-il à l'hôpital.",
  russian: 'Съешь же ещё этих мягких французских булок, да выпей чаю. ЁЛКА и ёлка.',
  greek: 'Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. ΆΈΉΊΌΎΏ ΐΰ',
  arabic: 'صِفْ خَلْقَ خَوْدٍ كَمِثْلِ الشَّمْسِ إِذْ بَزَغَتْ — يَحْظَى الضَّجِيعُ بِهَا نَجْلَاءَ مِعْطَارِ ١٢٣٤٥',
  hebrew: 'דג סקרן שט בים מאוכזב ולפתע מצא חברה. שָׁלוֹם עֲלֵיכֶם',
  hindi: 'ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले विष्णुवतार भगवान श्रीराम। १२३',
  bengali: 'আমি বাংলায় গান গাই। ০১২৩৪৫৬৭৮৯',
  tamil: 'யாமறிந்த மொழிகளிலே தமிழ்மொழி போல் இனிதாவது எங்கும் காணோம்',
  thai: 'เป็นมนุษย์สุดประเสริฐเลิศคุณค่า กว่าบรรดาฝูงสัตว์เดรัจฉาน',
  chinese: '我能吞下玻璃而不伤身体。这是一个测试，包括标点符号：“引号”（括号）！',
  japanese: 'いろはにほへと ちりぬるを カタカナ ﾊﾝｶｸ 漢字と平仮名の混じった文。',
  korean: '키스의 고유조건은 입술끼리 만나야 하고 특별한 기술은 필요치 않다. 한글 ᄀᄁ',
  vietnamese: 'Tiếng Việt có dấu: Tôi có thể ăn thủy tinh mà không hại gì.',
  georgian: 'მინას ვჭამ და არა მტკივა.',
  armenian: 'Կրնամ ապակի ուտել և ինծի անհանգիստ չըներ։',
  amharic: 'ብርጭቆ መብላት እችላለሁ፣ አይጎዳኝም።',
  mixed_case: 'HTTPServer XMLHttpRequest camelCaseWord snake_case_word SCREAMING_CASE ǅemal ǈubljana ᴬᴮᴰ İstanbul ǲ Ⅻ ⅻ',
};

export function proseCases() {
  const cases = Object.entries(prose).map(([name, text]) => [`prose ${name}`, text]);
  cases.push(['prose all scripts, joined by newlines', Object.values(prose).join('\n')]);
  cases.push(['prose all scripts, no separators', Object.values(prose).join('')]);
  return cases;
}

export function specialCases() {
  const contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];
  const variants = [];
  for (const c of contractions) {
    const letters = c.slice(1);
    for (let mask = 0; mask < 1 << letters.length; mask++) {
      let v = "'";
      for (let i = 0; i < letters.length; i++) v += mask & (1 << i) ? letters[i].toUpperCase() : letters[i];
      variants.push(v);
    }
  }
  const next = random(7);
  const emoji = ['👨‍👩‍👧‍👦', '👍🏽', '👩🏿‍💻', '🏳️‍🌈', '🇯🇵', '1️⃣', '❤️', '🧑🏻‍🤝‍🧑🏿', '😀', '🫠'];
  return [
    ['contractions in every case, after words', variants.map((v) => 'word' + v).join(' ')],
    ['contractions in every case, alone', variants.join(' ')],
    ['contractions after spaces and digits', variants.map((v) => ' ' + v + ' 9' + v + '\n' + v).join('')],
    ['contractions with long s and odd quotes', "it'ſ IT'ſ don’t 'x '' ''s 's's"],
    ['a BOM at line starts', '\uFEFFfirst line\n\uFEFFsecond line\r\n\uFEFF  indented\n\uFEFF'],
    ['emoji with ZWJ and skin tones', pick(next, emoji, 400)],
    ['emoji between words', emoji.map((e) => `word${e}word ${e} ${e}${e}`).join('\n')],
    ['combining marks', 'e\u0301 a\u0308\u0323 Z\u0351\u0337\u0336a\u0344\u0327l\u0313g\u0302o\u0300 \u0301start n\u0303\u0303 ऩ क़ ﬁ'],
    ['marks after spaces, digits and capitals', ' \u0301x 1\u0301 A\u0301B\u0301c \u0301\u0301 Á\u0301á'],
    ['CJK', '中文字符串测试中文字符串测试。日本語のテキスト、한국어 텍스트 𠀀𠀁𠀂 𪚥'],
    ['RTL with numbers and marks', 'مرحبا بالعالم 123 שלום עולם 456 \u200Fمرحبا\u200E ‏'],
    ['long digit runs', '1234567890'.repeat(50) + ' ' + '٠١٢٣٤٥٦٧٨٩'.repeat(10) + ' ０１２３ ²³ ½¾ Ⅻ 1,000,000.50'],
    ['whitespace runs', 'a \t\n b  \n\n\n  c\r\n\r\n d\u00A0\u00A0e\u3000f\u2028g\u2029h\u0085i \u000B\u000C j\u001C\u001Dk' + ' '.repeat(40) + 'x' + '\t'.repeat(20) + 'y \n \n ' + '\n'.repeat(30) + ' '.repeat(7)],
    ['whitespace at the end', 'text   \n  '],
    ['special token text as ordinary text', 'before <|endoftext|> <|fim_prefix|><|endofprompt|> after'],
    ['punctuation and slashes', '// comment\n/* block */ a/b//c ?!?! ... ---- ==> <=> http://example.com/path/to?x=1&y=2 \\\\ ;;\n\n'],
    ['control characters', '\u0001\u0002abc\u007F\u0080\u009Fdef'],
  ];
}

// Runs with no word boundary (the pathological inputs of the issue).
export function pathologicalCases() {
  const next = random(42);
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return [
    ['80,000 random letters, one run', pick(next, letters, 80000)],
    ['80,000 times a', 'a'.repeat(80000)],
    ['20,000 random CJK characters', pick(next, [...'的一是不了人我在有他这为之大来以个中上们'], 20000)],
    ['20,000 punctuation characters', pick(next, [...'!@#$%^&*()_+-=[]{};:,.<>/?|~`'], 20000)],
    ['10,000 digits', pick(next, [...'0123456789'], 10000)],
    ['10,000 spaces then a word', ' '.repeat(10000) + 'word'],
  ];
}

// Random mixtures of every character class the pre-tokenizer tells apart.
export function randomCases() {
  const next = random(1234);
  const atoms = ['a', 'Z', 'é', 'É', 'ǅ', 'ʰ', '中', '\u0301', '\u0903', '7', '٣', 'Ⅻ', '½', ' ', '  ', '\t', '\n', '\r\n', '\u00A0',
    '\u3000', "'", "'s", "'LL", '!', '/', '.', '😀', '👍🏽', '\uFEFF', '_', '-', '$', '\u0085', '\u2028'];
  const cases = [];
  for (let k = 0; k < 8; k++) cases.push([`random mixture ${k}`, pick(next, atoms, 3000)]);
  return cases;
}

export function corpus(fixturesDir) {
  return [...fixtureCases(fixturesDir), ...proseCases(), ...specialCases(), ...pathologicalCases(), ...randomCases()];
}
