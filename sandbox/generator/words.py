"""Small curated word lists for Australian CRM data (no Faker: every word here was chosen by hand).

Suburbs carry their real state and postcode; phone area codes follow the state (02 NSW/ACT, 03 VIC/TAS,
07 QLD, 08 SA/WA/NT). Business names are invented from stems and trades; any likeness to a real
business is accidental.
"""

from __future__ import annotations

# fmt: off
FIRST_NAMES: tuple[str, ...] = (
    "Jack", "Oliver", "William", "Noah", "Thomas", "James", "Lucas", "Henry", "Charlie", "Liam", "Ethan",
    "Leo", "Harrison", "Samuel", "Benjamin", "Alexander", "Max", "Archie", "Hunter", "Cooper", "Mason",
    "Isaac", "Lachlan", "Riley", "Jacob", "Joshua", "Daniel", "Matthew", "Michael", "Andrew", "David",
    "Christopher", "Nicholas", "Ryan", "Luke", "Nathan", "Adam", "Mark", "Paul", "Peter", "Stephen",
    "Anthony", "Robert", "John", "Richard", "Scott", "Craig", "Shane", "Brett", "Darren", "Glenn", "Wayne",
    "Trent", "Brendan", "Jarrod", "Hamish", "Angus", "Fergus", "Callum", "Declan", "Rohan", "Arjun", "Raj",
    "Vikram", "Sanjay", "Wei", "Jun", "Hao", "Minh", "Duc", "Tuan", "Khoa", "Ahmed", "Omar", "Ali", "Hassan",
    "Giorgos", "Nikos", "Marco", "Luca", "Giuseppe", "Sione", "Tane", "Wiremu", "Kieran", "Toby", "Charlotte",
    "Olivia", "Amelia", "Isla", "Mia", "Ava", "Grace", "Chloe", "Matilda", "Ella", "Zoe", "Sophie", "Ruby",
    "Emily", "Lily", "Harper", "Evie", "Sienna", "Willow", "Ivy", "Sarah", "Emma", "Jessica", "Rebecca",
    "Hannah", "Laura", "Kate", "Katherine", "Elizabeth", "Jennifer", "Michelle", "Nicole", "Melissa", "Kylie",
    "Tracey", "Lisa", "Karen", "Sharon", "Kim", "Leanne", "Belinda", "Natalie", "Danielle", "Samantha",
    "Stephanie", "Rachel", "Megan", "Bianca", "Tahlia", "Jade", "Priya", "Anjali", "Mei", "Lin", "Linh",
    "Huong", "Fatima", "Layla", "Aisha", "Eleni", "Sofia", "Giulia", "Chiara", "Mele", "Ngaire", "Anahera",
    "Georgia", "Holly", "Erin", "Alana", "Courtney", "Brooke", "Margaret", "Patricia", "Deborah", "Heather",
    "Joanne", "Wendy", "Fiona", "Alison", "Catherine",
)
# fmt: on

# fmt: off
SURNAMES: tuple[str, ...] = (
    "Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Johnson", "White", "Martin", "Anderson",
    "Thompson", "Nguyen", "Thomas", "Walker", "Harris", "Lee", "Ryan", "Robinson", "Kelly", "King", "Davis",
    "Wright", "Evans", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke", "Patel", "Khan", "Lewis",
    "James", "Phillips", "Mitchell", "Turner", "Edwards", "Campbell", "Murphy", "O'Brien", "O'Connor",
    "O'Neill", "McDonald", "MacKenzie", "McLeod", "Stewart", "Scott", "Young", "Allen", "Baker", "Cooper",
    "Hughes", "Morris", "Ward", "Hill", "Moore", "Clark", "Watson", "Bell", "Carter", "Collins", "Cook",
    "Gray", "Graham", "Hamilton", "Kennedy", "Marshall", "Murray", "Reid", "Ross", "Russell", "Shaw",
    "Simpson", "Stevens", "Sullivan", "Walsh", "Watts", "Webb", "West", "Wallace", "Fraser", "Duncan",
    "Fletcher", "Gibson", "Hart", "Hayes", "Jenkins", "Knight", "Lane", "Lawrence", "Lloyd", "Mason",
    "Matthews", "Mills", "Morgan", "Newman", "Owen", "Palmer", "Parker", "Pearce", "Price", "Richards",
    "Richardson", "Rogers", "Saunders", "Spencer", "Sutton", "Tucker", "Wells", "Williamson", "Woods", "Chen",
    "Wang", "Li", "Zhang", "Liu", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Tran", "Le", "Pham", "Hoang",
    "Phan", "Vu", "Dang", "Bui", "Do", "Singh", "Sharma", "Kumar", "Gupta", "Reddy", "Shah", "Mehta",
    "Papadopoulos", "Georgiou", "Nikolaidis", "Katsaros", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi",
    "Romano", "Colombo", "Ricci", "Marino", "Greco", "Conti", "De Luca", "Costa", "Santos", "Silva", "Haddad",
    "Khoury", "Nasser", "Saleh", "Ibrahim", "Hussein", "Kim", "Park", "Choi", "Tanaka", "Suzuki", "Sato",
    "Schmidt", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann", "van der Berg", "de Jong", "Jansen",
    "Kowalski", "Nowak", "Novak", "Horvat", "Petrovic", "Jovanovic", "Ngata", "Fitzgerald", "Dwyer", "Doyle",
    "Quinn", "Gallagher", "Brennan", "Kavanagh", "Burke", "Dunn", "Hogan", "Barnes", "Bishop", "Butler",
    "Chapman", "Dixon", "Ellis", "Ferguson", "Foster", "Gordon", "Grant", "Harvey", "Holmes", "Howard",
    "Hudson", "Hunt", "Johnston", "Jordan", "Kerr", "Lamb", "Little", "Lynch", "Marsh", "McCarthy", "McGrath",
    "McKay", "Miller", "Nash", "Nicholson", "Payne", "Perry", "Pike", "Porter", "Powell", "Reynolds", "Riley",
    "Rowe", "Sharp", "Skinner", "Stone", "Summers", "Thornton", "Vaughan", "Waters", "Whitehead", "Wilkinson",
    "Wyatt",
)
# fmt: on

# (firstName, lastName, ascii first, ascii last): accents, Vietnamese, CJK, Korean, Māori macrons.
# fmt: off
UNICODE_PEOPLE: tuple[tuple[str, str, str, str], ...] = (
    ("Zoë", "Müller", "zoe", "mueller"), ("Renée", "Lefèvre", "renee", "lefevre"),
    ("José", "García", "jose", "garcia"), ("François", "Dubois", "francois", "dubois"),
    ("Søren", "Østergaard", "soren", "ostergaard"), ("Björn", "Åkesson", "bjorn", "akesson"),
    ("Chloé", "Béranger", "chloe", "beranger"), ("Íñigo", "Muñoz", "inigo", "munoz"),
    ("Thị Hương", "Nguyễn", "huong", "nguyen"), ("Văn Đức", "Trần", "duc", "tran"),
    ("Minh Anh", "Phạm", "minhanh", "pham"), ("Quốc Bảo", "Lê", "bao", "le"),
    ("Thu Trang", "Đặng", "trang", "dang"), ("伟", "李", "wei", "li"), ("静", "王", "jing", "wang"),
    ("秀英", "张", "xiuying", "zhang"), ("美玲", "林", "meiling", "lin"), ("민준", "김", "minjun", "kim"),
    ("서연", "박", "seoyeon", "park"), ("Tāmati", "Ngāta", "tamati", "ngata"),
    ("Hēmi", "Pōmare", "hemi", "pomare"), ("Āwhina", "Te Rangi", "awhina", "terangi"),
    ("Mereana", "Tūrei", "mereana", "turei"), ("Ōrewa", "Kōhere", "orewa", "kohere"),
)
# fmt: on

# Unicode organisation name templates. Latin-script ones fold to ASCII (used for the accents variant).
# fmt: off
UNICODE_ORG_LATIN: tuple[str, ...] = (
    "Café {stem}", "Crème {stem} Pâtisserie", "Phở {surname}", "Bánh Mì {stem}", "Tāmaki {trade}",
    "Whānau {trade}", "Kōwhai {trade}", "Ōtautahi {trade}", "Müller & Söhne {trade}",
    "Señor {surname} Cantina", "Nguyễn {trade}", "Đông Á {trade}", "Brasserie Française {stem}",
)
# fmt: on
UNICODE_ORG_OTHER: tuple[str, ...] = (
    "金龙 Golden Dragon {trade}",
    "和风 {stem} Sushi",
    "福星 Lucky Star {trade}",
    "한강 Han River {trade}",
    "东方 {stem} Imports",
)

# Stems for business names: places, plants, birds, landmarks.
# fmt: off
NAME_STEMS: tuple[str, ...] = (
    "Harbourside", "Coral Coast", "Blue Gum", "Southern Cross", "Red Centre", "Bayside", "Northside",
    "Eastside", "Westside", "Ironbark", "Wattle", "Kookaburra", "Banksia", "Jacaranda", "Coastal", "Outback",
    "Riverina", "Hunter Valley", "Sunshine Coast", "Top End", "Tasman", "Great Southern", "Peninsula",
    "Highland", "Silver Gull", "Lyrebird", "Magpie", "Grevillea", "Waratah", "Saltbush", "Mallee",
    "Stringybark", "Kurrajong", "Bluewater", "Goldfields", "Snowy River", "Murray River", "Paperbark",
    "Bottlebrush", "Boab", "Spinifex", "Redgum", "Blackwood", "Tallowwood", "Coolabah", "Pelican",
    "Currawong", "Rosella", "Wombat", "Echidna", "Platypus", "Galah", "Brolga", "Jabiru", "Seahorse",
    "Sandstone", "Bluestone", "Limestone", "Granite Belt", "Eucalypt", "Acacia", "Lilly Pilly", "Macadamia",
    "Riverbend", "Headland", "Clifftop", "Longreach", "Sunrise", "Sundown", "Southerly", "Northerly",
    "Easterly", "Tradewind", "Ridgeline", "Valley View", "Lakeside", "Creekside", "Hillside", "Greenfield",
    "Parkside", "Oceanview", "Seaview", "Bushland", "Ranges", "Tableland", "Flinders", "Kimberley", "Pilbara",
    "Gippsland", "Barossa", "Coonawarra", "Daintree", "Whitsunday", "Kakadu", "Arnhem", "Nullarbor", "Otway",
    "Grampians", "Wilpena", "Kosciuszko", "Derwent", "Tamar", "Huon",
)
# fmt: on

# Words between a stem and a trade ("Bathurst Precision Engineering"): they widen the name space.
QUALIFIERS: tuple[str, ...] = (
    "Premier", "Quality", "Precision", "Elite", "Pro", "First Choice", "Total", "Advanced", "Allied",
    "Reliable", "Smart", "Urban", "Country", "Family", "Local", "United", "National", "Metro", "Regional",
    "Summit", "Apex", "Heritage", "Modern", "Classic", "Express", "Complete", "Master", "Trusted",
    "Independent", "Southern", "Northern", "Western", "Eastern", "Central",
)  # fmt: skip

# (trade, Capsule "Industry" list option)
# fmt: off
TRADES: tuple[tuple[str, str], ...] = (
    ("Plumbing", "Construction & Trades"), ("Electrical", "Construction & Trades"),
    ("Joinery", "Construction & Trades"), ("Landscaping", "Construction & Trades"),
    ("Roofing", "Construction & Trades"), ("Concreting", "Construction & Trades"),
    ("Tiling", "Construction & Trades"), ("Painting", "Construction & Trades"),
    ("Builders", "Construction & Trades"), ("Constructions", "Construction & Trades"),
    ("Homes", "Construction & Trades"), ("Air Conditioning", "Construction & Trades"),
    ("Solar", "Construction & Trades"), ("Glass", "Construction & Trades"),
    ("Fencing", "Construction & Trades"), ("Carpentry", "Construction & Trades"),
    ("Bakery", "Hospitality & Tourism"), ("Cafe", "Hospitality & Tourism"),
    ("Catering", "Hospitality & Tourism"), ("Coffee Roasters", "Hospitality & Tourism"),
    ("Brewing", "Hospitality & Tourism"), ("Winery", "Hospitality & Tourism"),
    ("Tours", "Hospitality & Tourism"), ("Dive Co", "Hospitality & Tourism"),
    ("Motel", "Hospitality & Tourism"), ("Kitchen", "Hospitality & Tourism"),
    ("Accounting", "Professional Services"), ("Legal", "Professional Services"),
    ("Consulting", "Professional Services"), ("Advisory", "Professional Services"),
    ("Bookkeeping", "Professional Services"), ("Surveying", "Professional Services"),
    ("Architects", "Professional Services"), ("Financial Planning", "Professional Services"),
    ("Hardware", "Retail"), ("Florist", "Retail"), ("Surf Co", "Retail"), ("Outfitters", "Retail"),
    ("Homewares", "Retail"), ("Pet Supplies", "Retail"), ("Bike Shop", "Retail"), ("Books", "Retail"),
    ("Farms", "Agriculture"), ("Orchards", "Agriculture"), ("Pastoral Co", "Agriculture"),
    ("Nurseries", "Agriculture"), ("Grain", "Agriculture"), ("Dairy", "Agriculture"), ("Dental", "Health"),
    ("Physio", "Health"), ("Pharmacy", "Health"), ("Vets", "Health"), ("Medical Centre", "Health"),
    ("Fitness", "Health"), ("Engineering", "Manufacturing"), ("Fabrication", "Manufacturing"),
    ("Steel", "Manufacturing"), ("Timber", "Manufacturing"), ("Plastics", "Manufacturing"),
    ("Printing", "Manufacturing"), ("Logistics", "Transport & Logistics"),
    ("Freight", "Transport & Logistics"), ("Couriers", "Transport & Logistics"),
    ("Haulage", "Transport & Logistics"), ("Removals", "Transport & Logistics"),
    ("Motors", "Transport & Logistics"), ("IT Solutions", "Technology"), ("Software", "Technology"),
    ("Networks", "Technology"), ("Digital", "Technology"), ("Security", "Technology"),
    ("Design", "Creative & Media"), ("Media", "Creative & Media"), ("Signs", "Creative & Media"),
    ("Photography", "Creative & Media"), ("Studio", "Creative & Media"),
    ("Cleaning", "Professional Services"), ("Pest Control", "Construction & Trades"),
    ("Pool Services", "Construction & Trades"), ("Mechanical", "Transport & Logistics"),
)
# fmt: on

INDUSTRIES: tuple[str, ...] = (
    "Agriculture",
    "Construction & Trades",
    "Creative & Media",
    "Health",
    "Hospitality & Tourism",
    "Manufacturing",
    "Professional Services",
    "Retail",
    "Technology",
    "Transport & Logistics",
)

# (suburb, state, postcode) — real places and postcodes; NT postcodes keep their leading zero.
# fmt: off
SUBURBS: tuple[tuple[str, str, str], ...] = (
    ("Sydney", "NSW", "2000"), ("Parramatta", "NSW", "2150"), ("Marrickville", "NSW", "2204"),
    ("Newtown", "NSW", "2042"), ("Surry Hills", "NSW", "2010"), ("Bondi", "NSW", "2026"),
    ("Manly", "NSW", "2095"), ("Chatswood", "NSW", "2067"), ("Penrith", "NSW", "2750"),
    ("Liverpool", "NSW", "2170"), ("Blacktown", "NSW", "2148"), ("Hornsby", "NSW", "2077"),
    ("Cronulla", "NSW", "2230"), ("Newcastle", "NSW", "2300"), ("Wollongong", "NSW", "2500"),
    ("Gosford", "NSW", "2250"), ("Bathurst", "NSW", "2795"), ("Orange", "NSW", "2800"),
    ("Dubbo", "NSW", "2830"), ("Wagga Wagga", "NSW", "2650"), ("Albury", "NSW", "2640"),
    ("Tamworth", "NSW", "2340"), ("Armidale", "NSW", "2350"), ("Lismore", "NSW", "2480"),
    ("Byron Bay", "NSW", "2481"), ("Coffs Harbour", "NSW", "2450"), ("Port Macquarie", "NSW", "2444"),
    ("Mudgee", "NSW", "2850"), ("Katoomba", "NSW", "2780"), ("Nowra", "NSW", "2541"),
    ("Goulburn", "NSW", "2580"), ("Ryde", "NSW", "2112"), ("Castle Hill", "NSW", "2154"),
    ("Campbelltown", "NSW", "2560"), ("Bankstown", "NSW", "2200"), ("Hurstville", "NSW", "2220"),
    ("Mosman", "NSW", "2088"), ("Balmain", "NSW", "2041"), ("Alexandria", "NSW", "2015"),
    ("Leichhardt", "NSW", "2040"), ("Maitland", "NSW", "2320"), ("Kiama", "NSW", "2533"),
    ("Queanbeyan", "NSW", "2620"), ("Canberra", "ACT", "2600"), ("Belconnen", "ACT", "2617"),
    ("Fyshwick", "ACT", "2609"), ("Tuggeranong", "ACT", "2900"), ("Gungahlin", "ACT", "2912"),
    ("Braddon", "ACT", "2612"), ("Mitchell", "ACT", "2911"), ("Melbourne", "VIC", "3000"),
    ("Richmond", "VIC", "3121"), ("Fitzroy", "VIC", "3065"), ("Collingwood", "VIC", "3066"),
    ("Brunswick", "VIC", "3056"), ("St Kilda", "VIC", "3182"), ("South Yarra", "VIC", "3141"),
    ("Carlton", "VIC", "3053"), ("Footscray", "VIC", "3011"), ("Box Hill", "VIC", "3128"),
    ("Dandenong", "VIC", "3175"), ("Frankston", "VIC", "3199"), ("Geelong", "VIC", "3220"),
    ("Ballarat", "VIC", "3350"), ("Bendigo", "VIC", "3550"), ("Shepparton", "VIC", "3630"),
    ("Mildura", "VIC", "3500"), ("Warrnambool", "VIC", "3280"), ("Traralgon", "VIC", "3844"),
    ("Wodonga", "VIC", "3690"), ("Torquay", "VIC", "3228"), ("Hawthorn", "VIC", "3122"),
    ("Prahran", "VIC", "3181"), ("Williamstown", "VIC", "3016"), ("Preston", "VIC", "3072"),
    ("Ringwood", "VIC", "3134"), ("Bairnsdale", "VIC", "3875"), ("Echuca", "VIC", "3564"),
    ("Camberwell", "VIC", "3124"), ("Brisbane", "QLD", "4000"), ("Fortitude Valley", "QLD", "4006"),
    ("South Brisbane", "QLD", "4101"), ("Toowong", "QLD", "4066"), ("Chermside", "QLD", "4032"),
    ("Ipswich", "QLD", "4305"), ("Southport", "QLD", "4215"), ("Surfers Paradise", "QLD", "4217"),
    ("Burleigh Heads", "QLD", "4220"), ("Coolangatta", "QLD", "4225"), ("Maroochydore", "QLD", "4558"),
    ("Noosa Heads", "QLD", "4567"), ("Caloundra", "QLD", "4551"), ("Toowoomba", "QLD", "4350"),
    ("Rockhampton", "QLD", "4700"), ("Mackay", "QLD", "4740"), ("Townsville", "QLD", "4810"),
    ("Cairns", "QLD", "4870"), ("Bundaberg", "QLD", "4670"), ("Hervey Bay", "QLD", "4655"),
    ("Gladstone", "QLD", "4680"), ("Gympie", "QLD", "4570"), ("Redcliffe", "QLD", "4020"),
    ("Cleveland", "QLD", "4163"), ("Port Douglas", "QLD", "4877"), ("Mount Isa", "QLD", "4825"),
    ("Stanthorpe", "QLD", "4380"), ("Adelaide", "SA", "5000"), ("Glenelg", "SA", "5045"),
    ("Norwood", "SA", "5067"), ("Unley", "SA", "5061"), ("Port Adelaide", "SA", "5015"),
    ("Prospect", "SA", "5082"), ("Salisbury", "SA", "5108"), ("Mount Barker", "SA", "5251"),
    ("Victor Harbor", "SA", "5211"), ("Murray Bridge", "SA", "5253"), ("Port Lincoln", "SA", "5606"),
    ("Whyalla", "SA", "5600"), ("Mount Gambier", "SA", "5290"), ("Tanunda", "SA", "5352"),
    ("McLaren Vale", "SA", "5171"), ("Hahndorf", "SA", "5245"), ("Perth", "WA", "6000"),
    ("Fremantle", "WA", "6160"), ("Subiaco", "WA", "6008"), ("Joondalup", "WA", "6027"),
    ("Rockingham", "WA", "6168"), ("Mandurah", "WA", "6210"), ("Midland", "WA", "6056"),
    ("Scarborough", "WA", "6019"), ("Cottesloe", "WA", "6011"), ("Osborne Park", "WA", "6017"),
    ("Bunbury", "WA", "6230"), ("Busselton", "WA", "6280"), ("Margaret River", "WA", "6285"),
    ("Albany", "WA", "6330"), ("Geraldton", "WA", "6530"), ("Kalgoorlie", "WA", "6430"),
    ("Broome", "WA", "6725"), ("Karratha", "WA", "6714"), ("Esperance", "WA", "6450"),
    ("Hobart", "TAS", "7000"), ("Sandy Bay", "TAS", "7005"), ("Glenorchy", "TAS", "7010"),
    ("Kingston", "TAS", "7050"), ("Launceston", "TAS", "7250"), ("Devonport", "TAS", "7310"),
    ("Burnie", "TAS", "7320"), ("Ulverstone", "TAS", "7315"), ("New Norfolk", "TAS", "7140"),
    ("Darwin", "NT", "0800"), ("Palmerston", "NT", "0830"), ("Casuarina", "NT", "0810"),
    ("Alice Springs", "NT", "0870"), ("Katherine", "NT", "0850"), ("Parap", "NT", "0820"),
)
# fmt: on

STATE_NAMES: dict[str, str] = {
    "NSW": "New South Wales",
    "VIC": "Victoria",
    "QLD": "Queensland",
    "SA": "South Australia",
    "WA": "Western Australia",
    "TAS": "Tasmania",
    "NT": "Northern Territory",
    "ACT": "Australian Capital Territory",
}

AREA_CODES: dict[str, str] = {
    "NSW": "2",
    "ACT": "2",
    "VIC": "3",
    "TAS": "3",
    "QLD": "7",
    "SA": "8",
    "WA": "8",
    "NT": "8",
}
# First digit of an 8-digit local number, per area code (plausible exchanges, not exhaustive).
LOCAL_FIRST_DIGITS: dict[str, str] = {"2": "98465", "3": "98956", "7": "3354", "8": "8969"}

# (city, region, postcode) in New Zealand: the "not Australia" addresses.
NZ_PLACES: tuple[tuple[str, str, str], ...] = (
    ("Auckland", "Auckland", "1010"),
    ("Wellington", "Wellington", "6011"),
    ("Christchurch", "Canterbury", "8011"),
    ("Hamilton", "Waikato", "3204"),
    ("Dunedin", "Otago", "9016"),
    ("Queenstown", "Otago", "9300"),
    ("Tauranga", "Bay of Plenty", "3110"),
)

# fmt: off
STREET_NAMES: tuple[str, ...] = (
    "George", "Pitt", "King", "Queen", "Elizabeth", "Victoria", "Albert", "William", "Church", "High", "Main",
    "Station", "Railway", "Park", "Bridge", "Collins", "Bourke", "Flinders", "Swanston", "Chapel", "Sydney",
    "Parramatta", "Pacific", "Oxford", "Crown", "Hunter", "Beach", "Ocean", "Bay", "Marine", "Hay", "Murray",
    "Wellington", "Stirling", "Rundle", "Grote", "Gouger", "Currie", "Wakefield", "Ann", "Wickham",
    "Brunswick", "Boundary", "Logan", "Sturt", "Anzac", "Military", "Sydenham", "Spence", "Macquarie",
    "Darling", "Harris", "Abbott", "Lonsdale", "Lygon", "Smith", "Gertrude", "Johnston", "Commercial",
    "Industrial", "Enterprise", "Frederick", "Edward", "Mary", "Margaret", "Charlotte", "Adelaide",
    "Melbourne", "Brisbane", "Hobart", "Canning", "Beaufort", "Scarborough Beach",
)
# fmt: on
# fmt: off
STREET_TYPES: tuple[tuple[str, str], ...] = (
    ("Street", "St"), ("Road", "Rd"), ("Avenue", "Ave"), ("Parade", "Pde"), ("Lane", "La"), ("Drive", "Dr"),
    ("Crescent", "Cres"), ("Place", "Pl"), ("Court", "Ct"), ("Terrace", "Tce"), ("Highway", "Hwy"),
    ("Boulevard", "Blvd"), ("Way", "Way"), ("Circuit", "Cct"),
)
# fmt: on

TITLES: tuple[str, ...] = ("Mr", "Ms", "Mrs", "Dr", "Miss")

# fmt: off
JOB_TITLES: tuple[str, ...] = (
    "Director", "Managing Director", "Owner", "General Manager", "Operations Manager", "Office Manager",
    "Accounts Payable", "Accounts Receivable", "Bookkeeper", "Financial Controller", "CFO", "CEO",
    "Sales Manager", "Purchasing Officer", "Procurement Lead", "Site Supervisor", "Project Manager",
    "Estimator", "Receptionist", "Marketing Coordinator", "Store Manager", "Head Chef", "Practice Manager",
    "Foreman", "Warehouse Manager", "Account Manager", "Partner", "Administrator",
)
# fmt: on

# Nicknames a bookkeeper types into Xero instead of the CRM's first name.
NICKNAMES: dict[str, str] = {
    "Samantha": "Sam",
    "Samuel": "Sam",
    "William": "Bill",
    "Robert": "Bob",
    "Elizabeth": "Liz",
    "Katherine": "Kate",
    "Catherine": "Cathy",
    "Michael": "Mike",
    "Christopher": "Chris",
    "Jennifer": "Jen",
    "Matthew": "Matt",
    "Daniel": "Dan",
    "Thomas": "Tom",
    "James": "Jim",
    "Jessica": "Jess",
    "Alexander": "Alex",
    "Anthony": "Tony",
    "Benjamin": "Ben",
    "Nicholas": "Nick",
    "Rebecca": "Bec",
    "Stephen": "Steve",
    "Patricia": "Trish",
    "Margaret": "Maggie",
    "Richard": "Rick",
    "Andrew": "Andy",
    "Joshua": "Josh",
    "Stephanie": "Steph",
    "Deborah": "Deb",
    "Nathan": "Nate",
    "Jacob": "Jake",
}

# Free-mail providers common in Australia: an e-mail domain here says nothing about the company.
# fmt: off
FREE_MAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "outlook.com", "hotmail.com", "yahoo.com.au", "yahoo.com", "bigpond.com", "bigpond.net.au",
    "optusnet.com.au", "icloud.com", "live.com.au", "iinet.net.au", "tpg.com.au", "internode.on.net",
    "outlook.com.au", "me.com",
)
# fmt: on

ORG_MAILBOXES: tuple[str, ...] = ("info", "accounts", "admin", "sales", "hello", "office", "enquiries")

ABOUT_ORG: tuple[str, ...] = (
    "{trade} business based in {suburb}.",
    "Family-owned {trade_lower} specialists servicing {suburb} and surrounds.",
    "Long-standing customer; orders monthly.",
    "Met at the {state} trade expo.",
    "Referred by an existing customer.",
    "Prefers contact by email. Accounts paid on 30-day terms.",
)

OPPORTUNITY_NAMES: tuple[str, ...] = (
    "FY{fy} supply agreement",
    "{trade} fit-out - {suburb}",
    "Annual maintenance contract",
    "Bulk order Q{q}",
    "New site setup - {suburb}",
    "Trade account upgrade",
    "Equipment lease renewal",
    "Pilot project",
)
KASE_NAMES: tuple[str, ...] = (
    "Site works - {suburb}",
    "Warranty claim #{n}",
    "Onboarding",
    "Showroom refit - {suburb}",
    "Delivery schedule {fy}",
)
TASK_DESCRIPTIONS: tuple[str, ...] = (
    "Follow up on quote",
    "Call about overdue invoice",
    "Confirm trade credit application and ABN",
    "Send price list",
    "Book site visit",
    "Check delivery date",
    "Renew insurance certificate",
    "Send Christmas card",
)
LOST_REASONS: tuple[str, ...] = ("Price", "Went with competitor", "No budget", "Timing", "No response")

# Long trading-as phrases: glued together they make legal names longer than Xero's 255 characters.
LONG_NAME_PARTS: tuple[str, ...] = (
    "trading as",
    "and associated entities",
    "incorporating",
    "in its capacity as trustee for",
    "Family Trust",
    "Unit Trust",
    "Superannuation Fund",
    "Holdings",
    "Investments",
    "Services",
    "Enterprises",
    "Partnership",
)
