// What the server must make of each upstream fixture (tests/fixtures/README.md,
// with glm-free-api 0.0.37's rendering bugs fixed: no lost characters,
// citation markers removed, v2 deltas handled, intervene text appended).

const PLAIN = '你好！我是智谱清言，是智谱 AI 公司于2023年训练的语言模型。我的任务是针对用户的问题和要求提供适当的答复和支持。';

const SEARCH_TEXT = '根据最新的天气预报，北京今天（10月15日）晴转多云，气温12℃～23℃，北风2～3级，空气质量良。早晚温差较大，外出建议携带一件外套。';
const SEARCH_INLINE =
  '检索 北京天气预报,北京7天天气预报,北京15天天气预报,北京天气查询(http://www.weather.com.cn/weather/101010100.shtml) ...\n' +
  '检索 北京今日天气_温度_空气质量(https://tianqi.moji.com/weather/china/beijing/beijing) ...\n' +
  '\n' + SEARCH_TEXT;
const SEARCH_FOOTER = SEARCH_TEXT +
  '\n\n搜索结果来自：\n' +
  '北京天气预报,北京7天天气预报,北京15天天气预报,北京天气查询 - http://www.weather.com.cn/weather/101010100.shtml\n' +
  '北京今日天气_温度_空气质量 - https://tianqi.moji.com/weather/china/beijing/beijing';

export const THINK_REASONING = '用户问9.11和9.9哪个大。比较小数：整数部分都是9；小数部分0.11和0.9，0.9即0.90，大于0.11。所以9.9更大。';
export const THINK_CONTENT = '9.9 比 9.11 大。\n\n整数部分相同（都是 9），再比较小数部分：0.9 = 0.90 > 0.11，所以 9.9 > 9.11。';
export const THINK_RAW = `<think>\n${THINK_REASONING}</think>\n\n${THINK_CONTENT}`;

const DRAWING = '![图像](https://sfile.chatglm.cn/testpath/df09b07f-9ff9-5d19-a9db-578b116db0bc_0.png)\n\n这是我为您创作的可爱猫咪图画，希望您喜欢。';
const CODE = '```python\ntotal = sum(range(1, 101))\nprint(total)\n```\n5050\n计算结果：1 到 100 的整数之和是 **5050**。';
const INTERVENE = '关于你提到的这个话题，\n\n这个问题我暂时无法回答，让我们换个话题再聊聊吧。';
const FILE = '这份文档是《2024年第三季度工作计划》，主要包括三部分内容：\n\n1. **目标**：第三季度营收同比增长15%，新增客户200家；\n2. **重点任务**：完成新版官网上线、启动华东区域渠道建设、优化售后响应流程；\n3. **时间安排**：7月完成方案评审，8月进入执行，9月底进行季度复盘。';
const VISION = '图片中是一个蓝色背景下的标志：左侧是由多个蓝色圆点组成的圆形图案，右侧是“智谱·AI”四个字，字体为蓝色。';
export const STREAM_ERROR_PARTIAL = '好的，下面我分三点来介绍量子计算的基本原理。首先，';

export { PLAIN, SEARCH_TEXT };

// name: fixture; model; prompt (a marker selects the fixture); stream and
// nonStream: { content, reasoning, finish } or { error: true, content (stream: text before the error) }.
export const FIXTURES = [
  {
    name: 'chat-plain', model: 'glm-4', prompt: '[[fixture:chat-plain]] 你好，请用一句话介绍你自己',
    stream: { content: PLAIN, reasoning: '', finish: 'stop' },
    nonStream: { content: PLAIN, reasoning: '', finish: 'stop' },
  },
  {
    name: 'chat-multipart-search', model: 'glm-4', prompt: '[[fixture:chat-multipart-search]] 今天北京天气怎么样？',
    stream: { content: SEARCH_INLINE, reasoning: '', finish: 'stop' },
    nonStream: { content: SEARCH_FOOTER, reasoning: '', finish: 'stop' },
  },
  {
    name: 'chat-think', model: 'glm-4-think', prompt: '[[fixture:chat-think]] 9.11和9.9哪个大？',
    stream: { content: THINK_CONTENT, reasoning: THINK_REASONING, finish: 'stop' },
    nonStream: { content: THINK_CONTENT, reasoning: THINK_REASONING, finish: 'stop' },
  },
  {
    name: 'chat-drawing', model: 'glm-4', prompt: '[[fixture:chat-drawing]] 画一只可爱的猫',
    stream: { content: DRAWING, reasoning: '', finish: 'stop' },
    nonStream: { content: DRAWING, reasoning: '', finish: 'stop' },
  },
  {
    name: 'chat-code-interpreter', model: 'glm-4', prompt: '[[fixture:chat-code-interpreter]] 用Python计算1到100的和',
    stream: { content: CODE, reasoning: '', finish: 'stop' },
    nonStream: { content: CODE, reasoning: '', finish: 'stop' },
  },
  {
    name: 'chat-intervene', model: 'glm-4', prompt: '[[fixture:chat-intervene]] 说点什么',
    stream: { content: INTERVENE, reasoning: '', finish: 'content_filter' },
    nonStream: { content: INTERVENE, reasoning: '', finish: 'content_filter' },
  },
  {
    name: 'chat-file', model: 'glm-4', prompt: '[[fixture:chat-file]] 总结一下这份文档',
    stream: { content: FILE, reasoning: '', finish: 'stop' },
    nonStream: { content: FILE, reasoning: '', finish: 'stop' },
  },
  {
    name: 'chat-image-vision', model: 'glm-4v', prompt: '[[fixture:chat-image-vision]] 图片里是什么？',
    stream: { content: VISION, reasoning: '', finish: 'stop' },
    nonStream: { content: VISION, reasoning: '', finish: 'stop' },
  },
  {
    name: 'chat-stream-error', model: 'glm-4', prompt: '[[fixture:chat-stream-error]] 介绍量子计算',
    stream: { error: true, content: STREAM_ERROR_PARTIAL },
    nonStream: { error: true },
  },
];

export const V2_DELTA = {
  name: 'chat-plain-v2-delta', model: 'glm-4', prompt: '[[fixture:chat-plain-v2-delta]] 从1数到5，只输出数字，用逗号分隔',
  stream: { content: '1, 2, 3, 4, 5', reasoning: '', finish: 'stop' },
  nonStream: { content: '1, 2, 3, 4, 5', reasoning: '', finish: 'stop' },
};
