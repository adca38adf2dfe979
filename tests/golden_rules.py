"""The "golden rules" sentence-boundary cases published with pySBD (MIT License, (c) 2019 Nipun
Sadvilkar; https://github.com/nipunsadvilkar/pySBD, commit 5905f13: benchmarks/english_golden_rules.py
and tests/lang/test_{french,chinese,japanese}.py), which take them from the Pragmatic Segmenter.
Copied by script, unedited; each English case keeps its published number and title."""

from __future__ import annotations

GOLDEN_EN: list[tuple[str, str, list[str]]] = [
    ('Simple period to end sentence', 'Hello World. My name is Jonas.', ['Hello World.', 'My name is Jonas.']),
    ('Question mark to end sentence', 'What is your name? My name is Jonas.', ['What is your name?', 'My name is Jonas.']),
    ('Exclamation point to end sentence', 'There it is! I found it.', ['There it is!', 'I found it.']),
    ('One letter upper case abbreviations', 'My name is Jonas E. Smith.', ['My name is Jonas E. Smith.']),
    ('One letter lower case abbreviations', 'Please turn to p. 55.', ['Please turn to p. 55.']),
    ('Two letter lower case abbreviations in the middle of a sentence', 'Were Jane and co. at the party?', ['Were Jane and co. at the party?']),
    ('Two letter upper case abbreviations in the middle of a sentence', 'They closed the deal with Pitt, Briggs & Co. at noon.', ['They closed the deal with Pitt, Briggs & Co. at noon.']),
    ('Two letter lower case abbreviations at the end of a sentence', "Let's ask Jane and co. They should know.", ["Let's ask Jane and co.", 'They should know.']),
    ('Two letter upper case abbreviations at the end of a sentence', 'They closed the deal with Pitt, Briggs & Co. It closed yesterday.', ['They closed the deal with Pitt, Briggs & Co.', 'It closed yesterday.']),
    ('Two letter (prepositive) abbreviations', 'I can see Mt. Fuji from here.', ['I can see Mt. Fuji from here.']),
    ('Two letter (prepositive & postpositive) abbreviations', "St. Michael's Church is on 5th st. near the light.", ["St. Michael's Church is on 5th st. near the light."]),
    ('Possesive two letter abbreviations', "That is JFK Jr.'s book.", ["That is JFK Jr.'s book."]),
    ('Multi-period abbreviations in the middle of a sentence', 'I visited the U.S.A. last year.', ['I visited the U.S.A. last year.']),
    ('Multi-period abbreviations at the end of a sentence', 'I live in the E.U. How about you?', ['I live in the E.U.', 'How about you?']),
    ('U.S. as sentence boundary', 'I live in the U.S. How about you?', ['I live in the U.S.', 'How about you?']),
    ('U.S. as non sentence boundary with next word capitalized', 'I work for the U.S. Government in Virginia.', ['I work for the U.S. Government in Virginia.']),
    ('U.S. as non sentence boundary', 'I have lived in the U.S. for 20 years.', ['I have lived in the U.S. for 20 years.']),
    ('A.M. / P.M. as non sentence boundary and sentence boundary', 'At 5 a.m. Mr. Smith went to the bank. He left the bank at 6 P.M. Mr. Smith then went to the store.', ['At 5 a.m. Mr. Smith went to the bank.', 'He left the bank at 6 P.M.', 'Mr. Smith then went to the store.']),
    ('Number as non sentence boundary', 'She has $100.00 in her bag.', ['She has $100.00 in her bag.']),
    ('Number as sentence boundary', 'She has $100.00. It is in her bag.', ['She has $100.00.', 'It is in her bag.']),
    ('Parenthetical inside sentence', 'He teaches science (He previously worked for 5 years as an engineer.) at the local University.', ['He teaches science (He previously worked for 5 years as an engineer.) at the local University.']),
    ('Email addresses', 'Her email is Jane.Doe@example.com. I sent her an email.', ['Her email is Jane.Doe@example.com.', 'I sent her an email.']),
    ('Web addresses', 'The site is: https://www.example.50.com/new-site/awesome_content.html. Please check it out.', ['The site is: https://www.example.50.com/new-site/awesome_content.html.', 'Please check it out.']),
    ('Single quotations inside sentence', "She turned to him, 'This is great.' she said.", ["She turned to him, 'This is great.' she said."]),
    ('Double quotations inside sentence', 'She turned to him, "This is great." she said.', ['She turned to him, "This is great." she said.']),
    ('Double quotations at the end of a sentence', 'She turned to him, "This is great." She held the book out to show him.', ['She turned to him, "This is great."', 'She held the book out to show him.']),
    ('Double punctuation (exclamation point)', 'Hello!! Long time no see.', ['Hello!!', 'Long time no see.']),
    ('Double punctuation (question mark)', 'Hello?? Who is there?', ['Hello??', 'Who is there?']),
    ('Double punctuation (exclamation point / question mark)', 'Hello!? Is that you?', ['Hello!?', 'Is that you?']),
    ('Double punctuation (question mark / exclamation point)', 'Hello?! Is that you?', ['Hello?!', 'Is that you?']),
    ('List (period followed by parens and no period to end item)', '1.) The first item 2.) The second item', ['1.) The first item', '2.) The second item']),
    ('List (period followed by parens and period to end item)', '1.) The first item. 2.) The second item.', ['1.) The first item.', '2.) The second item.']),
    ('List (parens and no period to end item)', '1) The first item 2) The second item', ['1) The first item', '2) The second item']),
    ('List (parens and period to end item)', '1) The first item. 2) The second item.', ['1) The first item.', '2) The second item.']),
    ('List (period to mark list and no period to end item)', '1. The first item 2. The second item', ['1. The first item', '2. The second item']),
    ('List (period to mark list and period to end item)', '1. The first item. 2. The second item.', ['1. The first item.', '2. The second item.']),
    ('List with bullet', '• 9. The first item • 10. The second item', ['• 9. The first item', '• 10. The second item']),
    ('List with hypthen', '⁃9. The first item ⁃10. The second item', ['⁃9. The first item', '⁃10. The second item']),
    ('Alphabetical list', 'a. The first item b. The second item c. The third list item', ['a. The first item', 'b. The second item', 'c. The third list item']),
    ('Geo Coordinates', 'You can find it at N°. 1026.253.553. That is where the treasure is.', ['You can find it at N°. 1026.253.553.', 'That is where the treasure is.']),
    ('Named entities with an exclamation point', 'She works at Yahoo! in the accounting department.', ['She works at Yahoo! in the accounting department.']),
    ('I as a sentence boundary and I as an abbreviation', 'We make a good team, you and I. Did you see Albert I. Jones yesterday?', ['We make a good team, you and I.', 'Did you see Albert I. Jones yesterday?']),
    ('Ellipsis at end of quotation', 'Thoreau argues that by simplifying one’s life, “the laws of the universe will appear less complex. . . .”', ['Thoreau argues that by simplifying one’s life, “the laws of the universe will appear less complex. . . .”']),
    ('Ellipsis with square brackets', '"Bohr [...] used the analogy of parallel stairways [...]" (Smith 55).', ['"Bohr [...] used the analogy of parallel stairways [...]" (Smith 55).']),
    ('Ellipsis as sentence boundary (standard ellipsis rules)', 'If words are left off at the end of a sentence, and that is all that is omitted, indicate the omission with ellipsis marks (preceded and followed by a space) and then indicate the end of the sentence with a period . . . . Next sentence.', ['If words are left off at the end of a sentence, and that is all that is omitted, indicate the omission with ellipsis marks (preceded and followed by a space) and then indicate the end of the sentence with a period . . . .', 'Next sentence.']),
    ('Ellipsis as sentence boundary (non-standard ellipsis rules)', 'I never meant that.... She left the store.', ['I never meant that....', 'She left the store.']),
    ('Ellipsis as non sentence boundary', "I wasn’t really ... well, what I mean...see . . . what I'm saying, the thing is . . . I didn’t mean it.", ["I wasn’t really ... well, what I mean...see . . . what I'm saying, the thing is . . . I didn’t mean it."]),
    ('4-dot ellipsis', 'One further habit which was somewhat weakened . . . was that of combining words into self-interpreting compounds. . . . The practice was not abandoned. . . .', ['One further habit which was somewhat weakened . . . was that of combining words into self-interpreting compounds.', '. . . The practice was not abandoned. . . .']),
]

GOLDEN_FR: list[tuple[str, list[str]]] = [
    ("Après avoir été l'un des acteurs du projet génome humain, le Genoscope met aujourd'hui le cap vers la génomique environnementale. L'exploitation des données de séquences, prolongée par l'identification expérimentale des fonctions biologiques, notamment dans le domaine de la biocatalyse, ouvrent des perspectives de développements en biotechnologie industrielle.", ["Après avoir été l'un des acteurs du projet génome humain, le Genoscope met aujourd'hui le cap vers la génomique environnementale.", "L'exploitation des données de séquences, prolongée par l'identification expérimentale des fonctions biologiques, notamment dans le domaine de la biocatalyse, ouvrent des perspectives de développements en biotechnologie industrielle."]),
    ('"Airbus livrera comme prévu 30 appareils 380 cette année avec en ligne de mire l\'objectif d\'équilibre financier du programme en 2015", a-t-il ajouté.', ['"Airbus livrera comme prévu 30 appareils 380 cette année avec en ligne de mire l\'objectif d\'équilibre financier du programme en 2015", a-t-il ajouté.']),
    ('À 11 heures ce matin, la direction ne décomptait que douze grévistes en tout sur la France : ce sont ceux du site de Saran (Loiret), dont l’effectif est de 809 salariés, dont la moitié d’intérimaires. Elle assure que ce mouvement « n’aura aucun impact sur les livraisons ».', ['À 11 heures ce matin, la direction ne décomptait que douze grévistes en tout sur la France : ce sont ceux du site de Saran (Loiret), dont l’effectif est de 809 salariés, dont la moitié d’intérimaires.', 'Elle assure que ce mouvement « n’aura aucun impact sur les livraisons ».']),
    ('Ce modèle permet d’afficher le texte « LL.AA.II.RR. » pour l’abréviation de « Leurs Altesses impériales et royales » avec son infobulle.', ['Ce modèle permet d’afficher le texte « LL.AA.II.RR. » pour l’abréviation de « Leurs Altesses impériales et royales » avec son infobulle.']),
    ('Les derniers ouvrages de Intercept Ltd. sont ici.', ['Les derniers ouvrages de Intercept Ltd. sont ici.']),
]

GOLDEN_ZH: list[tuple[str, list[str]]] = [
    ('安永已聯繫周怡安親屬，協助辦理簽證相關事宜，周怡安家屬1月1日晚間搭乘東方航空班機抵達上海，他們步入入境大廳時神情落寞、不發一語。周怡安來自台中，去年剛從元智大學畢業，同年9月加入安永。', ['安永已聯繫周怡安親屬，協助辦理簽證相關事宜，周怡安家屬1月1日晚間搭乘東方航空班機抵達上海，他們步入入境大廳時神情落寞、不發一語。', '周怡安來自台中，去年剛從元智大學畢業，同年9月加入安永。']),
    ('我们明天一起去看《摔跤吧！爸爸》好吗？好！', ['我们明天一起去看《摔跤吧！爸爸》好吗？', '好！']),
]

GOLDEN_JA: list[tuple[str, list[str]]] = [
    ('これはペンです。それはマーカーです。', ['これはペンです。', 'それはマーカーです。']),
    ('それは何ですか？ペンですか？', ['それは何ですか？', 'ペンですか？']),
    ('良かったね！すごい！', ['良かったね！', 'すごい！']),
    ('自民党税制調査会の幹部は、「引き下げ幅は３．２９％以上を目指すことになる」と指摘していて、今後、公明党と合意したうえで、３０日に決定する与党税制改正大綱に盛り込むことにしています。２％台後半を目指すとする方向で最終調整に入りました。', ['自民党税制調査会の幹部は、「引き下げ幅は３．２９％以上を目指すことになる」と指摘していて、今後、公明党と合意したうえで、３０日に決定する与党税制改正大綱に盛り込むことにしています。', '２％台後半を目指すとする方向で最終調整に入りました。']),
]
