"""Writes questions.jsonl from the hand-written table below (kept as code so a reviewer reads one line
a question). Run: python eval/make_questions.py"""
import json
from pathlib import Path

D0, D1, D2, D3, D4 = (
    "000_c8fb014e83a46547.txt", "001_3c9c59b90a3a1c43.txt", "002_d86c49a6ec5f4adf.txt",
    "003_b6f96e7322eea8f2.txt", "004_1b3744d526457350.txt",
)
DOC_LANG = {D0: "en", D1: "fr", D2: "fr", D3: "en", D4: "fr"}

# (id, lang, type, question, sources, gold answer, key facts: each a list of accepted variants)
Q = [
    # --- same language, French -----------------------------------------------------------------
    ("fr01", "fr", "factoid", "Combien d'élèves ingénieurs l'ENSMM forme-t-elle chaque année ?", [D1], "900 élèves ingénieurs par an.", [["900"]]),
    ("fr02", "fr", "factoid", "À quelle date Arts et Métiers et l'ENSMM ont-ils signé leur convention de partenariat ?", [D1], "Le 18 février 2016.", [["18 février 2016"]]),
    ("fr03", "fr", "factoid", "Quel terme Arts et Métiers a-t-il retiré de sa communication ?", [D1], "Le terme ParisTech.", [["ParisTech"]]),
    ("fr04", "fr", "factoid", "Quelles écoles faisaient déjà partie du réseau Arts et métiers partenaires ?", [D1], "L'ESFF, l'ENI Metz et l'ESSA.", [["ESFF"], ["ENI Metz"], ["ESSA"]]),
    ("fr05", "fr", "factoid", "Qui dirige l'ENSMM ?", [D1], "Bernard Cretin.", [["Bernard Cretin"]]),
    ("fr06", "fr", "factoid", "Quel est le budget du second AMI Territoires d'industrie ?", [D2], "10 millions d'euros.", [["10 millions"]]),
    ("fr07", "fr", "factoid", "Combien de projets ont été retenus par l'AMI « Territoires d'industrie 4.0 » ?", [D2], "41 projets, parmi 59 dossiers reçus.", [["41"]]),
    ("fr08", "fr", "factoid", "En quelle année l'ENSAM a-t-elle été fondée ?", [D2], "En 1780.", [["1780"]]),
    ("fr09", "fr", "factoid", "Quel est le nom du projet porté par le campus de Metz ?", [D2], "Le projet Actif-IA.", [["Actif-IA"]]),
    ("fr10", "fr", "factoid", "Quand l'antenne du Cnam de Montbéliard a-t-elle été inaugurée ?", [D4], "Le 22 juin.", [["22 juin"]]),
    ("fr11", "fr", "factoid", "Quel est le montant de l'enveloppe d'amorçage accompagnant l'implantation du Cnam à Montbéliard ?", [D4], "100 000 euros.", [["100000", "100 000", "100.000"]]),
    ("fr12", "fr", "factoid", "Combien d'emplois compte le bassin Belfort-Montbéliard-Héricourt ?", [D4], "59 000 emplois.", [["59000", "59.000", "59 000"]]),
    ("fr13", "fr", "factoid", "Depuis quand l'ENSAM fait-elle partie de HESAM Université ?", [D2], "Depuis 2013.", [["2013"]]),
    # --- same language, English ----------------------------------------------------------------
    ("en01", "en", "factoid", "How many engineers are trained in France every year?", [D0], "50,000 engineers a year.", [["50,000", "50000"]]),
    ("en02", "en", "factoid", "By how much does Arts et Métiers want to increase its number of graduates by 2027?", [D0], "By 50%.", [["50%", "50 %"]]),
    ("en03", "en", "factoid", "How many apprentices started in the first ISTP cohort?", [D0], "18 apprentices.", [["18"]]),
    ("en04", "en", "factoid", "Who directs AMTalents?", [D0], "Coline Moal Vignon.", [["Coline Moal Vignon"]]),
    ("en05", "en", "factoid", "When was the AMTalents programme created?", [D0], "In 2021.", [["2021"]]),
    ("en06", "en", "factoid", "Which business school launched an online MBA with Arts et Métiers?", [D0], "ESSCA.", [["ESSCA"]]),
    ("en07", "en", "factoid", "How many companies does the FIMME federation gather?", [D3], "More than 1,600 companies.", [["1,600", "1600"]]),
    ("en08", "en", "factoid", "Where was the FIMME agreement signed?", [D3], "In Casablanca, at the inauguration of SISTEP 2018.", [["Casablanca"]]),
    ("en09", "en", "factoid", "Who signed the MoU on behalf of FIMME?", [D3], "Abdelhamid Souiri, President of FIMME.", [["Abdelhamid Souiri"]]),
    ("en10", "en", "factoid", "When was the Alliance Industry du Futur launched?", [D3], "In April 2015.", [["April 2015"]]),
    ("en11", "en", "factoid", "Which Moroccan students were welcomed to the Metz campus in 2023?", [D0], "13 Moroccan students of the Grande Ecole programme.", [["13"]]),
    ("en12", "en", "factoid", "Who asked Arts et Métiers to open a campus in Le Havre?", [D0], "The Normandy Region.", [["Normandy"]]),
    # --- cross-lingual: English questions about French documents ------------------------------
    ("xe01", "en", "factoid", "How many engineering students does ENSMM train each year?", [D1], "900.", [["900"]]),
    ("xe02", "en", "factoid", "In which field does the school in Besançon specialise?", [D1], "Micromechanics (micromécanique).", [["micromécanique", "micromecanique"]]),
    ("xe03", "en", "factoid", "From when could double degrees between Cluny and Besançon be offered?", [D1], "From the start of the 2017 academic year.", [["2017"]]),
    ("xe04", "en", "factoid", "How many applications were received for the second Territoires d'industrie call?", [D2], "59 applications.", [["59"]]),
    ("xe05", "en", "factoid", "Who launched the Territoires d'industrie initiative and when?", [D2], "Edouard Philippe, Prime Minister, in November 2018.", [["Edouard Philippe"], ["2018"]]),
    ("xe06", "en", "factoid", "Which Arts et Métiers campus proposed a reconfigurable assembly and disassembly platform?", [D2], "The Bordeaux campus.", [["Bordeaux"]]),
    ("xe07", "en", "factoid", "How many students does the Pays de Montbéliard Agglomération have?", [D4], "About 3,700 students.", [["3.700", "3700", "3,700"]]),
    ("xe08", "en", "factoid", "Under which programme did Montbéliard apply to host a Cnam branch?", [D4], "Au coeur des territoires.", [["coeur des territoires"]]),
    ("xe09", "en", "factoid", "Which organisation's training centre partners with the Cnam in Montbéliard?", [D4], "The UIMM Franche-Comté training centre.", [["UIMM"]]),
    ("xe10", "en", "factoid", "How many research laboratories does ENSAM have according to the Territoires d'industrie article?", [D2], "15 laboratories.", [["15"]]),
    # --- cross-lingual: French questions about English documents ------------------------------
    ("xf01", "fr", "factoid", "Combien d'apprentis sont actuellement en formation à Arts et Métiers ?", [D0], "1 000 apprentis, dont 380 gérés par AMTalents.", [["1,000", "1000"]]),
    ("xf02", "fr", "factoid", "Combien d'ingénieurs la France devra-t-elle former par an d'ici 2027 ?", [D0], "100 000 par an.", [["100,000", "100000"]]),
    ("xf03", "fr", "factoid", "Qui est le président d'Arts et Métiers lors de la conférence de presse de 2023 ?", [D0], "Laurent Champaney.", [["Champaney"]]),
    ("xf04", "fr", "factoid", "Dans quelle ville se trouve le campus de l'ISTP ?", [D0], "À Saint-Étienne.", [["Saint-Etienne", "Saint-Étienne"]]),
    ("xf05", "fr", "factoid", "Combien de Mastères Spécialisés propose Arts et Métiers ?", [D0], "14 Mastères Spécialisés.", [["14"]]),
    ("xf06", "fr", "factoid", "Quand le protocole d'accord avec la FIMME a-t-il été signé ?", [D3], "Le jeudi 12 avril 2018.", [["April 12, 2018", "12 April 2018", "April 12"]]),
    ("xf07", "fr", "factoid", "Avec quel institut Arts et Métiers a-t-il noué un partenariat sur l'industrie numérique et l'IA ?", [D0], "DSTI, Data ScienceTech Institute.", [["DSTI"]]),
    ("xf08", "fr", "factoid", "Quel projet porté par HESAM Université vise à former à l'intelligence artificielle responsable ?", [D0], "Le projet CAIRE.", [["CAIRE"]]),
    ("xf09", "fr", "factoid", "Quel plan marocain vise à créer des écosystèmes industriels plus efficaces ?", [D3], "Le Plan d'Accélération Industrielle (PIA).", [["Industrial Acceleration Plan", "PIA"]]),
    ("xf10", "fr", "factoid", "Qui dirige le programme CNRS@Create Descartes ?", [D0], "Le professeur Francisco Chinesta.", [["Chinesta"]]),
    # --- two documents --------------------------------------------------------------------------
    ("md01", "en", "multi-doc", "Who led Arts et Métiers when the ENSMM agreement was signed, and who presided over it in 2023?", [D1, D0], "Laurent Carraro (director general, 2016); Laurent Champaney (president, 2023).", [["Carraro"], ["Champaney"]]),
    ("md02", "fr", "multi-doc", "En quelles années Arts et Métiers a-t-il signé ses accords avec l'ENSMM et avec la FIMME ?", [D1, D3], "2016 avec l'ENSMM, 2018 avec la FIMME.", [["2016"], ["2018"]]),
    ("md03", "en", "multi-doc", "In which two roles does Edouard Philippe appear in the articles?", [D0, D2], "Mayor of Le Havre, and Prime Minister who launched Territoires d'industrie.", [["mayor"], ["ministre", "minister"]]),
    ("md04", "fr", "multi-doc", "Quels projets la Banque des Territoires soutient-elle dans ces articles ?", [D2, D4], "L'AMI Territoires d'industrie 4.0 et l'antenne du Cnam à Montbéliard.", [["Territoires d"], ["Cnam"]]),
    ("md05", "en", "multi-doc", "What links the Metz campus to Morocco and to the Territoires d'industrie call?", [D0, D2], "It welcomed 13 Moroccan students and carries the Actif-IA project.", [["13"], ["Actif-IA"]]),
    ("md06", "fr", "multi-doc", "Quelles institutions de Bourgogne-Franche-Comté apparaissent dans les articles ?", [D1, D4], "Le Polytechnicum (Cluny, ENSMM) et le Cnam Bourgogne-Franche-Comté.", [["Polytechnicum"], ["Cnam"]]),
    ("md07", "en", "multi-doc", "How many students does Arts et Métiers train each year, and on how many campuses?", [D2, D3], "More than 6,000 students, on 8 campuses and 3 institutes.", [["6,000", "6000", "6 000"], ["8 campus"]]),
    ("md08", "fr", "multi-doc", "Quels partenaires marocains d'Arts et Métiers sont cités ?", [D0, D3], "Le ministère marocain de l'Industrie et du Commerce et la FIMME.", [["Ministry of Industry"], ["FIMME"]]),
    # --- documents that disagree -----------------------------------------------------------------
    ("cf01", "fr", "conflict", "Où se situera le campus marocain d'Arts et Métiers ?", [D0, D3], "Rabat selon l'article de 2023, Zenata selon celui de 2018.", [["Rabat", "Zenata"]]),
    ("cf02", "en", "conflict", "In which Moroccan city is the Arts et Métiers campus planned?", [D0, D3], "Rabat (2023 article) or the eco-city of Zenata (2018 article).", [["Rabat", "Zenata"]]),
    ("cf03", "en", "conflict", "How many laboratories does Arts et Métiers have?", [D2, D3], "15 according to one article, 14 according to another.", [["14", "15"]]),
    ("cf04", "fr", "conflict", "Quel est le titre de Laurent Champaney à Arts et Métiers ?", [D0, D3], "Président (2023) ; directeur général (2018).", [["President", "GM", "président"]]),
    # --- unanswerable: near misses and off-topic -------------------------------------------------
    ("un01", "fr", "unanswerable", "Combien coûtent les frais d'inscription à l'ENSMM ?", [], "", []),
    ("un02", "en", "unanswerable", "How many students are enrolled at the Le Havre campus today?", [], "", []),
    ("un03", "fr", "unanswerable", "Quel est le budget du projet Actif-IA du campus de Metz ?", [], "", []),
    ("un04", "en", "unanswerable", "Who is the director of the Cnam branch in Montbéliard?", [], "", []),
    ("un05", "en", "unanswerable", "What is the tuition fee of the Business & Technology MBA?", [], "", []),
    ("un06", "fr", "unanswerable", "Combien d'étudiants compte le campus de Cluny ?", [], "", []),
    ("un07", "en", "unanswerable", "What was the title of Quentin Brilhault's thesis?", [], "", []),
    ("un08", "fr", "unanswerable", "Combien de salariés compte l'entreprise METRON ?", [], "", []),
    ("un09", "en", "off-topic", "What is the capital of Japan?", [], "", []),
    ("un10", "fr", "off-topic", "Quelle est la recette de la tarte Tatin ?", [], "", []),
    ("un11", "en", "off-topic", "Who won the 2018 football World Cup?", [], "", []),
    ("un12", "fr", "off-topic", "Comment fonctionne la photosynthèse ?", [], "", []),
]


def main() -> None:
    out = Path(__file__).with_name("questions.jsonl")
    ids = set()
    with open(out, "w", encoding="utf-8") as f:
        for qid, lang, qtype, question, sources, gold, facts in Q:
            assert qid not in ids, qid
            ids.add(qid)
            cross = bool(sources) and all(DOC_LANG[s] != lang for s in sources)
            row = {"id": qid, "question": question, "language": lang, "type": qtype, "sources": sources,
                   "answer": gold, "key_facts": facts, "answerable": bool(sources), "cross_lingual": cross}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(Q)} questions to {out}")


if __name__ == "__main__":
    main()
