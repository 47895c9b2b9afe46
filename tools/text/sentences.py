"""A fixed set of English sentences and sentence pairs for sentence-embedding models.

    sentences()  -> list[str]               every distinct sentence, in a fixed order
    pairs()      -> list[tuple[str, str]]   pairs whose similarity ranges from paraphrase to unrelated
    passages(n)  -> list[str]               longer texts (several sentences joined), for long sequences

No labels: a quantized model is judged by how closely it reproduces the fp32 model's embeddings
(cosine) and its ranking of the pairs' similarities (Spearman). The pairs mix close paraphrases,
sentences on the same topic and sentences on different topics, so the fp32 similarities spread
over the whole range and a ranking of them is informative. Everything is deterministic.
"""

from __future__ import annotations

import random

TOPICS: dict[str, list[str]] = {
    "weather": [
        "It rained all afternoon and the streets were flooded.",
        "The forecast says tomorrow will be sunny and warm.",
        "A cold wind blew in from the north overnight.",
        "Snow covered the mountain roads by early morning.",
        "The summer heat made it hard to sleep.",
        "Thick fog delayed every flight at the airport.",
    ],
    "cooking": [
        "She baked a loaf of bread with rosemary and olive oil.",
        "Simmer the tomatoes slowly until the sauce thickens.",
        "He burned the rice because he forgot to stir it.",
        "The soup needs more salt and a squeeze of lemon.",
        "We grilled vegetables in the garden for dinner.",
        "Whisk the eggs with sugar until the mixture turns pale.",
    ],
    "sports": [
        "The home team scored twice in the final minutes.",
        "She ran the marathon in just under three hours.",
        "The tennis match went to a fifth set.",
        "Our goalkeeper saved a penalty in the shootout.",
        "He trains at the swimming pool every morning.",
        "The cyclists climbed the steep pass in the rain.",
    ],
    "technology": [
        "The new phone has a faster processor and a better camera.",
        "Restart the router if the connection keeps dropping.",
        "The software update fixed a serious security flaw.",
        "Engineers reduced the memory use of the database by half.",
        "This laptop battery lasts about ten hours.",
        "The website crashed when too many users logged in at once.",
    ],
    "finance": [
        "The central bank raised interest rates again this quarter.",
        "Stock prices fell sharply after the earnings report.",
        "She opened a savings account for her daughter.",
        "Inflation made groceries noticeably more expensive.",
        "The company borrowed money to build a new factory.",
        "He checks his bank balance before every large purchase.",
    ],
    "animals": [
        "The cat slept on the windowsill in the sun.",
        "A dog barked at the mail carrier every morning.",
        "Migrating geese flew south in a long line.",
        "The horse refused to jump over the fence.",
        "Bees gathered pollen from the lavender bushes.",
        "A fox crossed the road just before dawn.",
    ],
    "travel": [
        "Our train to the coast left an hour late.",
        "They booked a small hotel near the old harbor.",
        "Remember to bring your passport to the airport.",
        "The bus ride through the hills took most of the day.",
        "We got lost in the narrow streets of the old town.",
        "The ferry crossing was rough because of the storm.",
    ],
    "health": [
        "Drinking enough water helps you stay focused.",
        "The doctor recommended rest and plenty of fluids.",
        "Regular exercise lowers the risk of heart disease.",
        "He sprained his ankle while hiking on the trail.",
        "The clinic offers free flu vaccines in the autumn.",
        "Getting eight hours of sleep improved her mood.",
    ],
    "music": [
        "The orchestra played a symphony by Brahms.",
        "He practices the guitar for an hour each evening.",
        "The concert was cancelled because the singer was ill.",
        "Her new album mixes jazz with electronic sounds.",
        "The choir rehearsed in the old church on Sundays.",
        "A street musician played the violin outside the station.",
    ],
    "school": [
        "The students handed in their essays on Friday.",
        "Our teacher explained fractions with slices of pizza.",
        "The library stays open late during exam week.",
        "He failed the chemistry test and studied all weekend.",
        "The school built a new science laboratory.",
        "She was elected class representative this year.",
    ],
    "work": [
        "The meeting was moved to Thursday afternoon.",
        "She asked her manager for a day off next week.",
        "The team finished the project ahead of schedule.",
        "He works from home on Mondays and Fridays.",
        "Our office printer jams at least once a day.",
        "The new colleague starts on the first of the month.",
    ],
    "home": [
        "We painted the kitchen walls a pale yellow.",
        "The washing machine leaked water onto the floor.",
        "They planted tomatoes and beans in the backyard.",
        "Please take out the trash before you leave.",
        "The heating stopped working in the middle of winter.",
        "He fixed the squeaky door with a drop of oil.",
    ],
}

PARAPHRASES: list[tuple[str, str]] = [
    ("The meeting was moved to Thursday afternoon.", "We rescheduled the meeting for Thursday after lunch."),
    ("It rained all afternoon and the streets were flooded.", "Heavy rain flooded the roads during the afternoon."),
    ("The cat slept on the windowsill in the sun.", "A cat was napping in the sunshine by the window."),
    ("Stock prices fell sharply after the earnings report.", "Shares dropped steeply once the results were published."),
    ("Restart the router if the connection keeps dropping.", "If the internet keeps cutting out, reboot the router."),
    ("She ran the marathon in just under three hours.", "Her marathon time was a little less than three hours."),
    ("The doctor recommended rest and plenty of fluids.", "The physician told him to rest and drink a lot."),
    ("Our train to the coast left an hour late.", "The train to the seaside departed sixty minutes behind schedule."),
    ("The orchestra played a symphony by Brahms.", "A Brahms symphony was performed by the orchestra."),
    ("The students handed in their essays on Friday.", "On Friday the pupils submitted their essays."),
    ("We painted the kitchen walls a pale yellow.", "The kitchen got a fresh coat of light yellow paint."),
    ("The software update fixed a serious security flaw.", "A serious vulnerability was patched in the latest update."),
    ("Inflation made groceries noticeably more expensive.", "Food shopping has become clearly pricier because of inflation."),
    ("A dog barked at the mail carrier every morning.", "Every morning the dog barks at the postman."),
    ("Remember to bring your passport to the airport.", "Don't forget your passport when you go to the airport."),
    ("Regular exercise lowers the risk of heart disease.", "Working out often reduces your chance of heart problems."),
    ("He practices the guitar for an hour each evening.", "Every night he spends an hour playing guitar."),
    ("The team finished the project ahead of schedule.", "The project was completed earlier than planned by the team."),
    ("The heating stopped working in the middle of winter.", "In midwinter the heater broke down."),
    ("Snow covered the mountain roads by early morning.", "By dawn the mountain roads were under snow."),
    ("She baked a loaf of bread with rosemary and olive oil.", "She made rosemary and olive oil bread."),
    ("The home team scored twice in the final minutes.", "In the last minutes the hosts got two goals."),
    ("The company borrowed money to build a new factory.", "The firm took out a loan to construct another plant."),
    ("They booked a small hotel near the old harbor.", "They reserved rooms at a little hotel by the old port."),
]

SUBJECTS = ["My neighbor", "The old man", "A young woman", "The teacher", "Our driver", "The engineer",
            "A tourist", "The farmer", "My sister", "The pilot"]
ACTIONS = ["bought a new bicycle", "lost her keys at the market", "painted a picture of the river",
           "repaired the broken fence", "read a long novel", "planted an apple tree",
           "missed the last bus home", "wrote a letter to the mayor", "cooked dinner for twelve people",
           "found a wallet in the park"]
TIMES = ["yesterday", "last week", "on Sunday morning", "after work", "during the holidays"]


def sentences() -> list[str]:
    """Every sentence of the set (topic sentences, paraphrases, templated ones), without repeats."""
    out: list[str] = []
    for group in TOPICS.values():
        out.extend(group)
    for a, b in PARAPHRASES:
        out.extend([a, b])
    rng = random.Random(7)
    for s in SUBJECTS:
        for a in rng.sample(ACTIONS, 4):
            out.append(f"{s} {a} {rng.choice(TIMES)}.")
    return list(dict.fromkeys(out))  # without repeats, first occurrence kept


def pairs(n_random: int = 200) -> list[tuple[str, str]]:
    """Paraphrase pairs, same-topic pairs, templated pairs sharing a subject or an action, and
    pairs across topics."""
    rng = random.Random(11)
    out = list(PARAPHRASES)
    topics = list(TOPICS)
    for t in topics:  # same topic, different statements
        g = TOPICS[t]
        for i in range(0, len(g) - 1, 2):
            out.append((g[i], g[i + 1]))
    for s in SUBJECTS:  # same person, different action; same action, different person
        a1, a2 = rng.sample(ACTIONS, 2)
        out.append((f"{s} {a1} {rng.choice(TIMES)}.", f"{s} {a2} {rng.choice(TIMES)}."))
        other = rng.choice([x for x in SUBJECTS if x != s])
        out.append((f"{s} {a1} {rng.choice(TIMES)}.", f"{other} {a1} {rng.choice(TIMES)}."))
    every = [s for g in TOPICS.values() for s in g]
    while len(out) < len(PARAPHRASES) + n_random:
        a, b = rng.sample(every, 2)
        out.append((a, b))
    return out


def passages(n: int = 64, per: int = 6) -> list[str]:
    """n texts of `per` sentences each, mostly from one topic with one sentence from another."""
    rng = random.Random(13)
    topics = list(TOPICS)
    out = []
    for i in range(n):
        t = topics[i % len(topics)]
        body = rng.sample(TOPICS[t], min(per - 1, len(TOPICS[t])))
        body.insert(rng.randrange(len(body) + 1), rng.choice(TOPICS[rng.choice(topics)]))
        out.append(" ".join(body))
    return out
