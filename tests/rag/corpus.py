"""A small mixed Chinese/English corpus written for these tests, with questions and the file that
answers each. Topics are distinct so a correct retriever has one clear answer per question."""

from __future__ import annotations

import json
from pathlib import Path

DOCS = {
    "tides.txt": (
        "Ocean tides are the regular rise and fall of sea level. They are caused mainly by the "
        "gravitational pull of the Moon, with a smaller contribution from the Sun. Most coasts see two "
        "high tides and two low tides every lunar day of about 24 hours and 50 minutes. When the Sun, "
        "Moon and Earth line up, the pulls add together and produce spring tides with a large range. "
        "When they are at right angles, the pulls partly cancel and produce weak neap tides."
    ),
    "python_gc.md": (
        "# Memory management in CPython\n\n"
        "CPython frees most objects through reference counting. Every object stores a count of the "
        "references pointing at it; when the count drops to zero the object is deallocated at once. "
        "Reference cycles, such as two lists that contain each other, never reach zero, so a separate "
        "cyclic garbage collector runs periodically. It groups objects into three generations and "
        "scans young objects more often than old ones. The gc module can disable or trigger it."
    ),
    "bees.md": (
        "# Honeybee communication\n\n"
        "A forager honeybee that finds good flowers returns to the hive and performs the waggle dance. "
        "The angle of the waggle run relative to vertical tells the other workers the direction of the "
        "food relative to the sun. The duration of the waggle run encodes the distance to the flowers. "
        "Bees also pollinate crops such as almonds and apples while they collect nectar and pollen."
    ),
    "coffee.txt": (
        "Coffee roasting turns green coffee beans into the brown beans used for brewing. During a light "
        "roast the beans keep more acidity and fruity flavours. At a dark roast the beans pass the second "
        "crack, oils appear on the surface, and bitter, smoky flavours dominate. Roasting changes "
        "caffeine content only slightly; a scoop of light roast beans holds a little more caffeine "
        "because the beans are denser."
    ),
    "volcano.md": (
        "# Mount Etna\n\n"
        "Mount Etna is an active stratovolcano on the east coast of Sicily, in Italy. It is one of the "
        "most active volcanoes in the world and erupts almost every year, often with lava fountains and "
        "ash plumes. Magma rises from a chamber deep below the mountain. The fertile volcanic soil on its "
        "slopes supports vineyards and orchards."
    ),
    "tea.txt": (
        "龙井茶是中国十大名茶之一，产自浙江省杭州市西湖一带。龙井茶属于绿茶，采摘后经过杀青、揉捻和炒制，"
        "保留了茶叶的绿色和清香。最好的龙井茶在清明节之前采摘，被称为明前茶。冲泡龙井茶时，水温以八十度左右为宜。"
    ),
    "panda.md": (
        "# 大熊猫\n\n"
        "大熊猫是中国特有的珍稀动物，主要生活在四川、陕西和甘肃的山区竹林里。大熊猫的食物几乎全部是竹子，"
        "一只成年大熊猫每天要吃十几公斤竹子。大熊猫的繁殖率很低，幼崽刚出生时只有一百克左右。"
    ),
    "silk.txt": (
        "丝绸之路是古代连接中国和地中海世界的贸易通道。西汉时期，汉武帝派张骞出使西域，目的是联合大月氏共同对抗匈奴。"
        "张骞的出使打通了从长安向西的道路，丝绸、瓷器和茶叶由此运往西方，葡萄和苜蓿则传入中国。"
    ),
    "solar_terms.txt": (
        "二十四节气是中国古代根据太阳在黄道上的位置划分的时间体系。立春标志着春季的开始，"
        "冬至这一天北半球白昼最短、黑夜最长，民间有吃饺子或汤圆的习俗。"
        "The 24 solar terms were added to the UNESCO list of intangible cultural heritage in 2016."
    ),
}

# (question, expected file, retrievers)
EN_QUESTIONS = [
    ("What causes ocean tides and spring tides?", "tides.txt"),
    ("How does reference counting free memory in Python?", "python_gc.md"),
    ("How do honeybees tell other workers where the flowers are?", "bees.md"),
    ("What happens to coffee beans during a dark roast?", "coffee.txt"),
    ("Which volcano in Sicily erupts almost every year?", "volcano.md"),
]
ZH_QUESTIONS = [
    ("龙井茶产自哪里？", "tea.txt"),
    ("大熊猫主要吃什么食物？", "panda.md"),
    ("张骞为什么出使西域？", "silk.txt"),
    ("冬至这一天有什么特点？", "solar_terms.txt"),
]


def write(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in DOCS.items():
        (root / name).write_text(text + "\n", encoding="utf-8")
    return root


def write_qa(path: Path) -> Path:
    lines = [json.dumps({"q": q, "sources": [f]}, ensure_ascii=False) for q, f in EN_QUESTIONS + ZH_QUESTIONS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
